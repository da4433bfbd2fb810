// The failure handler and the fallbacks: what leaves the pipeline undelivered reaches the handler
// with its records intact, the handler's answer is honoured, and its failures are reported.
import test from 'ava'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { EventTime, FluentClient, FluentError, fallbackToClient, fallbackToFile, fallbackToStream } from '../index.js'
import type { FailedBatch } from '../index.js'
import { Receiver, deadPort, quick, until } from './helpers.ts'

function tmpFile(): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fluent-native-'))
  return { path: join(dir, 'fallback.jsonl'), done: () => rmSync(dir, { recursive: true, force: true }) }
}

test('records dropped by the overflow policy reach the handler, decoded exactly', async (t) => {
  const port = await deadPort()
  const batches: FailedBatch[] = []
  const log = new FluentClient({
    port,
    ...quick,
    maxBufferBytes: 8192,
    maxRecordBytes: 1024,
    errorHandler: (_err, batch) => {
      batches.push(batch)
      return true
    },
  })
  log.on('error', () => {})
  let refused = 0
  for (let i = 0; i < 500; i++) if (!log.emit('drop.me', { i, big: 2n ** 60n }, new EventTime(1_700_000_000 + i, i))) refused++
  t.true(refused > 100, `refused ${refused}`)
  await until(() => batches.reduce((n, b) => n + b.count, 0) >= refused, 5000)
  const records = batches.flatMap((b) => b.records)
  t.is(records.length, refused)
  t.true(batches.every((b) => b.reason === 'dropped' && !b.retriable && b.tag === 'drop.me'))
  batches.length = 0
  for (const { time, record } of records) {
    const i = record.i as number
    t.deepEqual([time.epoch, time.nano, record.big], [1_700_000_000 + i, i, 2n ** 60n])
  }
  const report = await log.close({ timeoutMs: 0 })
  // The rest reached it too: offered while the breaker was open (the handler took them), or left at
  // the close. Every record emitted ended with the handler, once.
  t.is(report.handled, 500)
  t.is(batches.reduce((n, b) => n + b.count, 0), 500 - refused)
  t.true(batches.every((b) => b.reason === 'unavailable' || b.reason === 'close'))
  t.is(log.stats().handled, 500)
})

test('fallbackToFile gets what is left at close, as JSON lines with the event time', async (t) => {
  const port = await deadPort()
  const file = tmpFile()
  const log = new FluentClient({ port, ...quick, errorHandler: fallbackToFile(file.path) })
  log.on('error', () => {})
  for (let i = 0; i < 1000; i++) log.emit('to.file', { i, s: 'é"\n' }, new EventTime(1_700_000_123, 5 + i))
  const report = await log.close({ timeoutMs: 100 })
  // Handled records are counted as handled only (the identity): none is left pending.
  t.is(report.pending, 0)
  t.is(report.handled, 1000)
  const lines = readFileSync(file.path, 'utf8').trimEnd().split('\n')
  t.is(lines.length, 1000)
  t.is(lines[0], `{"tag":"to.file","time":1700000123.000000005,"record":{"i":0,"s":"é\\"\\n"}}`)
  t.deepEqual(
    lines.map((l) => JSON.parse(l).record.i),
    Array.from({ length: 1000 }, (_, i) => i),
  )
  file.done()
})

test('a handler that throws, rejects, hangs or answers nonsense is reported as ERR_FLUENT_HANDLER, never fatal', async (t) => {
  const port = await deadPort()
  let call = 0
  const log = new FluentClient({
    port,
    ...quick,
    batchBytes: 64,
    errorHandlerTimeoutMs: 100,
    errorHandler: (() => {
      call++
      if (call === 1) throw new Error('boom')
      if (call === 2) return Promise.reject(new Error('nope'))
      if (call === 3) return 'yes' as unknown as boolean
      if (call === 4) return true
      // Last: at a close the handler has errorHandlerTimeoutMs in all, so a batch after a hang
      // would not be offered (see the close bound test in accounting.spec.ts).
      return new Promise<boolean>(() => {})
    }) as never,
  })
  const errors: FluentError[] = []
  log.on('error', (e: FluentError) => errors.push(e))
  for (let i = 0; i < 5; i++) log.emit(`t${i}`, { i, pad: 'z'.repeat(80) })
  const report = await log.close({ timeoutMs: 50 })
  const handler = errors.filter((e) => e.code === 'ERR_FLUENT_HANDLER').map((e) => e.message)
  t.is(handler.length, 4, handler.join('\n'))
  t.regex(handler[0], /threw: .*boom/)
  t.regex(handler[1], /threw: .*nope/)
  t.regex(handler[2], /must return true or false, returned string/)
  t.regex(handler[3], /did not answer within errorHandlerTimeoutMs \(100 ms\)/)
  // Five left at the deadline: one handled, four not taken (counted once each).
  t.is(report.pending, 4)
  t.is(report.handled, 1)
})

test('while every breaker is open the handler is offered the buffer; false keeps it for later', async (t) => {
  const port = await deadPort()
  const offers: FailedBatch[] = []
  const log = new FluentClient({
    port,
    ...quick,
    breaker: { failureThreshold: 2, cooldownMs: 300, maxCooldownMs: 300 },
    errorHandler: (_err, batch) => {
      if (batch.reason === 'unavailable') offers.push(batch)
      return false
    },
  })
  const codes: string[] = []
  log.on('error', (e: FluentError) => codes.push(e.code))
  for (let i = 0; i < 200; i++) log.emit('held', { i })
  await until(() => offers.length > 0, 5000)
  t.true(offers.length > 0)
  t.true(offers.every((b) => b.retriable))
  t.true(codes.includes('ERR_FLUENT_UNAVAILABLE'))
  // The handler said false: the records went back into the buffer, and reach the server once it is up.
  const r = await Receiver.start(port)
  t.true(await r.waitFor(200, 10_000), `got ${r.entries.length}`)
  t.deepEqual(
    r.entries.map((e) => e.record.i).sort((a, b) => (a as number) - (b as number)),
    Array.from({ length: 200 }, (_, i) => i),
  )
  await log.close()
  await r.close()
})

test('fallbackToStream honours backpressure and delivers every line', async (t) => {
  const port = await deadPort()
  const chunks: string[] = []
  let waits = 0
  const slow = new Writable({
    highWaterMark: 256,
    write(chunk, _enc, cb) {
      chunks.push(String(chunk))
      waits++
      setTimeout(cb, 2)
    },
  })
  const log = new FluentClient({ port, ...quick, batchBytes: 512, errorHandler: fallbackToStream(slow) })
  log.on('error', () => {})
  for (let i = 0; i < 300; i++) log.emit('to.stream', { i })
  const report = await log.close({ timeoutMs: 50 })
  t.is(report.handled, 300)
  const lines = chunks.join('').trimEnd().split('\n')
  t.deepEqual(
    lines.map((l) => JSON.parse(l).record.i),
    Array.from({ length: 300 }, (_, i) => i),
  )
  t.true(waits > 1)
})

test('fallbackToClient moves the records to another client as they are, times kept', async (t) => {
  const port = await deadPort()
  const second = await Receiver.start()
  const backup = new FluentClient({ port: second.port, ...quick })
  const log = new FluentClient({ port, ...quick, errorHandler: fallbackToClient(backup) })
  log.on('error', () => {})
  for (let i = 0; i < 500; i++) log.emit('moved', { i }, new EventTime(1_600_000_000, i))
  const report = await log.close({ timeoutMs: 50 })
  t.is(report.handled, 500)
  await backup.close()
  t.true(await second.waitFor(500))
  t.true(second.entries.every((e) => e.tag === 'moved'))
  const times = second.entries.map((e) => (e.time as { nanosecond: number }).nanosecond ?? e.time)
  t.is(new Set(times).size, 500, 'each record kept its own time')
  await second.close()
})

test('emitEntries refuses bytes that are not entries, and keeps the ones before', async (t) => {
  const r = await Receiver.start()
  const log = new FluentClient({ port: r.port, ...quick })
  const seen: Buffer[] = []
  log.on('delivered', (b: { bytes: Buffer }) => seen.push(b.bytes))
  log.emit('copy', { i: 1 })
  await log.flush()
  await until(() => seen.length > 0)
  t.is(log.emitEntries('copy', seen[0]), 1)
  const bad = Buffer.concat([seen[0], Buffer.from([0x92, 0x01, 0x01])])
  const e = t.throws(() => log.emitEntries('copy', bad)) as FluentError
  t.is(e.code, 'ERR_FLUENT_ENCODE')
  await log.close()
  await r.waitFor(3)
  t.is(r.entries.length, 3)
  await r.close()
})
