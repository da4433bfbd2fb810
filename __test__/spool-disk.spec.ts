// Issue 27, "what survives what": a full disk and a read-only directory. The app runs inside a
// private mount namespace (spool-helpers.ts MountNs: needs root and util-linux, as CI has; without
// them the test fails saying so) whose spool dir is a 512 KiB tmpfs, or a read-only tmpfs. Either
// way: a clear error event, memory-only operation (stats().spool.state), every record that could
// not be kept counted (refused at emit, then dropped), every accepted one delivered, no crash.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { Receiver, deadPort, quick, sleep, until } from './helpers.ts'
import { SpoolApp } from './spool-app.ts'
import { MountNs, coverage, identityProblems } from './spool-helpers.ts'

const KIB = 1024
const MIB = 1024 * KIB
const PAD = 480
/** 3 MiB of records: far more than the memory buffer (256 KiB) and the 512 KiB disk together. */
const N = Math.ceil((3 * MIB) / (PAD + 30))

/**
 * Emits [0, N) in chunks of 64 KiB, each once the writer has appended the ones before or the spool
 * went memory-only (bounded wait, 2 s), as an application logs through an outage; the accepted ids.
 */
async function emitAll(app: SpoolApp): Promise<number[]> {
  const accepted: number[] = []
  const chunk = Math.ceil((64 * KIB) / (PAD + 30))
  for (let from = 0; from < N; from += chunk) {
    const before = accepted.length
    for (let k = 0; k < 200; k++) {
      const s = (await app.stats()).spool
      if (s?.state === 'memoryOnly' || s?.appended >= before) break
      await sleep(10)
    }
    const to = Math.min(N, from + chunk)
    const r = await app.emit(from, to, PAD)
    const refused = new Set(r.refused)
    for (let i = from; i < to; i++) if (!refused.has(i)) accepted.push(i)
  }
  return accepted
}

/** The server comes up: every accepted record must arrive, none other; then the app closes cleanly. */
async function deliverAndClose(t: ExecutionContext, app: SpoolApp, port: number, accepted: number[]) {
  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  t.true(await server.waitFor(accepted.length, 60_000), `received ${server.entries.length} of ${accepted.length} accepted`)
  const r = await app.close(10_000)
  t.is(r.code, 0, `the app exited cleanly: ${app.stderr}`)
  const got = coverage(
    accepted,
    server.entries.map((e) => e.record.i as number),
  )
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} accepted record(s) never arrived`)
  t.deepEqual(got.strays.slice(0, 20), [], 'no refused record arrived')
  t.is(r.report.sent, accepted.length)
  t.is(r.report.dropped, N - accepted.length, 'every record that could not be kept is counted as dropped')
  t.is(r.report.refused, N - accepted.length)
  t.deepEqual(identityProblems('close report', r.report), [])
  t.deepEqual(
    app.events.filter((e) => e.type !== 'error'),
    [],
    'no constructor error, no unhandled rejection',
  )
  return r
}

test('a full disk: a clear error, then memory-only operation; every dropped record counted, every accepted one delivered, no crash', async (t) => {
  t.timeout(150_000)
  const ns = await MountNs.start({ sizeKiB: 512 })
  t.teardown(() => ns.stop())
  const port = await deadPort()
  const app = await SpoolApp.start(
    { port, requireAck: true, maxBufferBytes: 256 * KIB, maxRecordBytes: 8 * KIB, ...quick, spool: { dir: ns.dir, maxBytes: 64 * MIB } },
    ns.wrap,
  )
  const accepted = await emitAll(app)
  const full = () => app.events.filter((e) => e.code === 'ERR_FLUENT_SPOOL_FULL' || e.code === 'ERR_FLUENT_SPOOL_IO')
  t.true(await until(() => full().length > 0, 20_000), `a spool error was reported; events: ${JSON.stringify(app.events)}`)
  const stats = await app.stats()
  t.log(`accepted ${accepted.length} of ${N}; error: ${full()[0]?.code}: ${full()[0]?.message}; spool ${JSON.stringify(stats.spool)}`)
  t.regex(full()[0].message ?? '', /No space left|full/i, 'the error says the disk is full')
  t.true((full()[0].message ?? '').includes(ns.dir), 'and names the spool dir')
  t.is(stats.spool?.state, 'memoryOnly')
  t.true(accepted.length < N, 'memory could not hold everything: some records were refused')
  t.true(accepted.length * (PAD + 30) > 256 * KIB, 'the disk took records before it filled')
  t.deepEqual(identityProblems('stats() with the disk full', stats), [])
  await deliverAndClose(t, app, port, accepted)
})

test('a read-only spool directory: a clear error, memory-only operation, every dropped record counted, no crash', async (t) => {
  t.timeout(150_000)
  const ns = await MountNs.start({ sizeKiB: 1024, readOnly: true })
  t.teardown(() => ns.stop())
  const port = await deadPort()
  const dir = `${ns.dir}/spool`
  const app = await SpoolApp.start({ port, requireAck: true, maxBufferBytes: 256 * KIB, maxRecordBytes: 8 * KIB, ...quick, spool: { dir } }, ns.wrap)
  const io = () => app.events.filter((e) => e.code === 'ERR_FLUENT_SPOOL_IO')
  t.true(await until(() => io().length > 0, 20_000), `ERR_FLUENT_SPOOL_IO was reported; events: ${JSON.stringify(app.events)}`)
  t.log(`${io()[0].code}: ${io()[0].message}`)
  t.regex(io()[0].message ?? '', /Read-only file system/, 'the error says why')
  t.true((io()[0].message ?? '').includes(ns.dir), 'and names the path')
  const accepted = await emitAll(app)
  const stats = await app.stats()
  t.is(stats.spool?.state, 'memoryOnly')
  t.is(stats.spool?.bytes, 0)
  t.true(accepted.length < N, 'with no disk, records beyond the memory buffer are refused')
  t.deepEqual(identityProblems('stats() read-only', stats), [])
  await deliverAndClose(t, app, port, accepted)
})
