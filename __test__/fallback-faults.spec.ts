// Fallbacks when the server never comes up: every record reaches the file (left at close() or at
// process.exit()) or a second client; and an exit with many records pending under acks drains them
// all within the exit deadline.
import test from 'ava'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventTime, FluentClient, fallbackToClient, fallbackToFile } from '../index.js'
import { requireClient, runNode } from './child.ts'
import { Receiver, deadPort, quick } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'fluent-fallback-'))
const BASE = 1_700_000_000

/** A distinct time per record, nanoseconds included, so the file's times can be checked exactly. */
const timeOf = (i: number) => new EventTime(BASE + i, (i * 7919) % 1_000_000_000)

/**
 * Parses the fallback file: each line must be `{"tag","time","record"}` with `time` written as
 * `seconds.nanoseconds` (nine digits) and equal to the time the record was emitted with. Returns
 * how often each id appeared.
 */
function readFallback(t: { is: (a: unknown, b: unknown, m?: string) => void }, path: string, tag: string, n: number): Uint8Array {
  const seen = new Uint8Array(n)
  const lines = readFileSync(path, 'utf8').split('\n')
  t.is(lines.pop(), '', 'the file ends with a newline')
  for (const line of lines) {
    const m = /^\{"tag":"([^"]+)","time":(\d+)\.(\d{9}),"record":(.*)\}$/.exec(line)
    if (m === null) throw new Error(`not a fallback line: ${line}`)
    const record = JSON.parse(m[4]) as { i: number }
    const want = timeOf(record.i)
    if (m[1] !== tag || Number(m[2]) !== want.epoch || Number(m[3]) !== want.nano) throw new Error(`wrong tag or time: ${line}`)
    seen[record.i]++
  }
  return seen
}

const everyOnce = (seen: Uint8Array) => seen.every((c) => c === 1)

test('fallbackToFile gets every record when the server never comes up, those left at close() included', async (t) => {
  const N = 5000
  const path = join(dir, 'close.jsonl')
  const client = new FluentClient({ port: await deadPort(), errorHandler: fallbackToFile(path), ...quick })
  client.on('error', () => {})
  for (let i = 0; i < N; i++) client.emit('fallback.close', { i }, timeOf(i))
  const report = await client.close({ timeoutMs: 300 })
  t.true(everyOnce(readFallback(t, path, 'fallback.close', N)), 'each record exactly once in the file')
  t.is(report.handled, N)
  t.is(report.sent, 0)
  t.is(client.stats().handled, N)
  t.log(`report ${JSON.stringify(report)}`)
})

test('fallbackToFile gets every record left at process.exit() (synchronously, in the exit drain)', async (t) => {
  const N = 5000
  const path = join(dir, 'exit.jsonl')
  const r = await runNode(`
    ${requireClient}
    const log = new lib.FluentClient({ port: ${await deadPort()}, exitFlushTimeoutMs: 300, errorHandler: lib.fallbackToFile(${JSON.stringify(path)}) })
    log.on('error', (e) => { if (e.code === 'ERR_FLUENT_UNDELIVERED' || e.code === 'ERR_FLUENT_HANDLER') console.log('HEARD ' + e.code) })
    for (let i = 0; i < ${N}; i++) log.emit('fallback.exit', { i }, new lib.EventTime(${BASE} + i, (i * 7919) % 1e9))
    process.on('exit', () => console.log('HANDLED ' + log.stats().handled))
    process.exit(0)
  `)
  t.is(r.status, 0, r.stderr)
  t.true(everyOnce(readFallback(t, path, 'fallback.exit', N)), 'each record exactly once in the file')
  t.regex(r.stdout, new RegExp(`HANDLED ${N}\\n`))
  // Handled records are not reported as undelivered.
  t.notRegex(r.stdout, /HEARD/)
  t.notRegex(r.stderr, /not delivered/)
})

test('fallbackToClient delivers every record to a second server, times kept', async (t) => {
  const N = 5000
  const second = await Receiver.start()
  const backup = new FluentClient({ port: second.port, ...quick })
  const client = new FluentClient({ port: await deadPort(), errorHandler: fallbackToClient(backup), ...quick })
  client.on('error', () => {})
  for (let i = 0; i < N; i++) client.emit('fallback.client', { i }, timeOf(i))
  const report = await client.close({ timeoutMs: 300 })
  t.is(report.handled, N)
  await backup.flush({ timeoutMs: 20_000 })
  const backupReport = await backup.close()
  t.true(await second.waitFor(N))
  await second.close()
  t.is(backupReport.sent, N)
  const seen = new Uint8Array(N)
  for (const e of second.entries) {
    const i = e.record.i as number
    const time = e.time as { epoch: number; nano: number }
    t.is(e.tag, 'fallback.client')
    if (time.epoch !== timeOf(i).epoch || time.nano !== timeOf(i).nano) t.fail(`record ${i}: time ${JSON.stringify(time)}`)
    seen[i]++
  }
  t.true(everyOnce(seen))
})

test('process.exit() with 100,000 records pending under acks: all acknowledged within the exit deadline', async (t) => {
  const N = 100_000
  const server = await Receiver.start()
  const EXIT_MS = 10_000
  const r = await runNode(
    `
    ${requireClient}
    const log = new lib.FluentClient({ port: ${server.port}, requireAck: true, exitFlushTimeoutMs: ${EXIT_MS} })
    log.on('error', (e) => console.log('ERROR ' + e.code + ' ' + e.message))
    for (let i = 0; i < ${N}; i++) log.emit('exit.acked', { i, msg: 'a record that is about as long as a log line' })
    let exitAt = 0
    process.prependListener('exit', () => { exitAt = Date.now() })
    process.on('exit', () => {
      const s = log.stats()
      console.log('DRAIN ' + (Date.now() - exitAt) + ' SENT ' + s.sent + ' QUEUED ' + s.queuedRecords + ' INFLIGHT ' + s.inFlightBatches)
    })
    process.exit(0)
  `,
    EXIT_MS + 20_000,
  )
  t.is(r.status, 0, r.stderr)
  t.true(await server.waitFor(N, 20_000), `the server got ${server.entries.length}`)
  await server.close()
  const m = /DRAIN (\d+) SENT (\d+) QUEUED (\d+) INFLIGHT (\d+)/.exec(r.stdout)
  t.truthy(m, r.stdout + r.stderr)
  const [drain, sent, queued, inFlight] = (m as RegExpExecArray).slice(1).map(Number)
  t.log(`exit drain ${drain} ms for ${N} acknowledged records`)
  // `sent` counts acknowledged records under acks: all of them, before the process was gone.
  t.is(sent, N)
  t.is(queued, 0)
  t.is(inFlight, 0)
  t.true(drain < EXIT_MS, `drain ${drain} ms`)
  t.notRegex(r.stdout, /ERROR/)
  t.is(new Set(server.entries.map((e) => e.record.i)).size, N)
})
