// The `spool` option's basic path against a real Forward server (FluentServer): options checked,
// records delivered through the spool and removed from disk, what a close could not send left on
// disk and sent first by the next client, and the identity with its spool terms. The per-row suite
// of issue 27 (SIGKILL, damage, full disk, shared dirs) is in the spool-* specs of spool-tests.
import test from 'ava'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FluentClient, FluentError } from '../index.js'
import type { CloseReport, FluentStats } from '../index.js'
import { Receiver, deadPort, quick } from './helpers.ts'

function spoolDir(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fluent-spool-basic-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Segment files left in every slot of `dir`. */
function segments(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(dir, d.name)).filter((f) => f.endsWith('.seg')))
}

function identity(r: CloseReport | FluentStats): [number, number] {
  return [r.emitted + r.refused + r.replayed, r.sent + r.dropped + r.rejected + r.handled + r.pending + r.spooled]
}

test('spool options are checked against the option table', (t) => {
  const bad = (spool: unknown, what: RegExp) => {
    const e = t.throws(() => new FluentClient({ port: 1, exitFlushTimeoutMs: 0, spool } as never), { instanceOf: FluentError })
    t.is(e?.code, 'ERR_FLUENT_CONFIG')
    t.regex(e?.message ?? '', what)
  }
  bad({}, /spool needs dir/)
  bad({ dir: '' }, /spool.dir must be a non-empty string/)
  bad({ dir: '/tmp/x', maxBytes: 1000 }, /spool.maxBytes must be an integer in 1048576\.\./)
  bad({ dir: '/tmp/x', syncIntervalMs: -2 }, /spool.syncIntervalMs must be an integer in -1\.\./)
  bad({ dir: '/tmp/x', maxbytes: 1 << 20 }, /unknown spool option "maxbytes" \(did you mean "maxBytes"\?\)/)
  bad('/tmp/x', /spool must be an object/)
  // A client without a spool says so in its stats.
  const plain = new FluentClient({ port: 1, exitFlushTimeoutMs: 0 })
  plain.on('error', () => {})
  t.is(plain.stats().spool, null)
  void plain.close({ timeoutMs: 0 })
})

test('records go through the spool to a real server, and the disk is empty once they are acknowledged', async (t) => {
  const dir = spoolDir(t)
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, requireAck: true, spool: { dir, syncIntervalMs: 0 } })
  for (let i = 0; i < 3000; i++) client.emit('spool.basic', { i, pad: 'x'.repeat(50) })
  await client.flush()
  const stats = client.stats()
  t.is(stats.spool?.state, 'ok')
  t.is(stats.spool?.appended, 3000)
  t.true((stats.spool?.syncs ?? 0) > 0, 'syncIntervalMs 0: fsync after each batch')
  const report = await client.close()
  t.like(report, { emitted: 3000, sent: 3000, pending: 0, replayed: 0, spooled: 0 })
  t.deepEqual(...identity(report))
  t.true(await server.waitFor(3000))
  t.deepEqual(
    server.entries.map((e) => e.record.i),
    Array.from({ length: 3000 }, (_, i) => i),
  )
  t.deepEqual(segments(dir), [], 'every batch settled: nothing left on disk')
  await server.close()
})

test('what a close cannot send stays on disk, and the next client sends it first, once', async (t) => {
  const dir = spoolDir(t)
  const first = new FluentClient({ port: await deadPort(), ...quick, spool: { dir } })
  const errors: FluentError[] = []
  first.on('error', (e: FluentError) => errors.push(e))
  for (let i = 0; i < 500; i++) first.emit('spool.left', { i })
  const left = await first.close({ timeoutMs: 200 })
  t.like(left, { emitted: 500, sent: 0, pending: 0, spooled: 500 })
  t.deepEqual(...identity(left))
  t.false(errors.some((e) => e.code === 'ERR_FLUENT_UNDELIVERED'), 'kept on disk, not reported as lost')
  t.like(first.stats(), { pending: 0, spooled: 500 })
  t.true(segments(dir).length > 0)

  const server = await Receiver.start()
  const second = new FluentClient({ port: server.port, requireAck: true, spool: { dir } })
  for (let i = 500; i < 600; i++) second.emit('spool.new', { i })
  t.true(await server.waitFor(600))
  const report = await second.close()
  t.like(report, { emitted: 100, replayed: 500, sent: 600, spooled: 0, pending: 0 })
  t.deepEqual(...identity(report))
  t.deepEqual(
    server.entries.map((e) => e.record.i),
    Array.from({ length: 600 }, (_, i) => i),
    'leftovers first, oldest first, then the new records; each once',
  )
  t.is(second.stats().spool?.replayed, 500)
  t.deepEqual(segments(dir), [])
  await server.close()
})

test("a 'delivered' listener added in the constructor's turn hears the replay, even when it is delivered before", async (t) => {
  const dir = spoolDir(t)
  const first = new FluentClient({ port: await deadPort(), ...quick, spool: { dir } })
  first.on('error', () => {})
  for (let i = 0; i < 300; i++) first.emit('spool.heard', { i })
  t.like(await first.close({ timeoutMs: 200 }), { spooled: 300 })

  const server = await Receiver.start()
  const second = new FluentClient({ port: server.port, spool: { dir } })
  // Without acks the writer thread alone counts the replay sent (the kernel takes it, and the
  // first connection's probation passes) while this turn still runs. The reports were once off
  // until the listener below asked for them, and those batches went unheard.
  const until = Date.now() + 20_000
  const nap = new Int32Array(new SharedArrayBuffer(4))
  while (second.stats().sent < 300 && Date.now() < until) Atomics.wait(nap, 0, 0, 10)
  t.is(second.stats().sent, 300, 'the replay was sent before the listener was added')
  const heard: number[] = []
  second.on('delivered', (b) => heard.push(...b.records.map((r) => r.record.i as number)))
  const report = await second.close()
  t.like(report, { replayed: 300, sent: 300 })
  t.deepEqual(heard, Array.from({ length: 300 }, (_, i) => i))
  t.true(await server.waitFor(300))
  await server.close()
})

test('a named slot another client holds is ERR_FLUENT_SPOOL_LOCKED, naming the holder', async (t) => {
  const dir = spoolDir(t)
  const port = await deadPort()
  const first = new FluentClient({ port, ...quick, spool: { dir, slot: 'api' } })
  first.on('error', () => {})
  const e = t.throws(() => new FluentClient({ port, ...quick, spool: { dir, slot: 'api' } }), { instanceOf: FluentError })
  t.is(e?.code, 'ERR_FLUENT_SPOOL_LOCKED')
  t.regex(e?.message ?? '', new RegExp(`in use by process ${process.pid}`))
  await first.close({ timeoutMs: 0 })
  // Released at close: the slot can be taken again.
  const again = new FluentClient({ port, ...quick, spool: { dir, slot: 'api' } })
  again.on('error', () => {})
  await again.close({ timeoutMs: 0 })
  t.pass()
})

test('the metrics show the spool', async (t) => {
  const dir = spoolDir(t)
  const client = new FluentClient({ port: await deadPort(), ...quick, spool: { dir } })
  client.on('error', () => {})
  for (let i = 0; i < 100; i++) client.emit('spool.metrics', { i })
  await new Promise((r) => setTimeout(r, 200))
  const text = client.metrics()
  t.regex(text, /^fluent_native_spool_appended_records_total 100$/m)
  t.regex(text, /^fluent_native_spool_files 1$/m)
  t.regex(text, /^fluent_native_spool_memory_only 0$/m)
  await client.close({ timeoutMs: 0 })
})
