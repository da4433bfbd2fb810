// flush() and close() settle whenever they are called, and flush never reports success for records
// that were given up on (REVIEW-0.1 #3, #11).
import test from 'ava'
import { FluentClient, FluentError } from '../index.js'
import { Receiver, deadPort, quick } from './helpers.ts'

/** Resolves to 'resolved' or the rejection's code, or 'hung' if it did not settle within `ms`. */
function outcome(p: Promise<unknown>, ms = 10_000): Promise<string> {
  return Promise.race([
    p.then(
      () => 'resolved',
      (e: FluentError) => e.code,
    ),
    new Promise<string>((resolve) => setTimeout(() => resolve('hung'), ms).unref()),
  ])
}

test('flush issued before, during and after a close all settle', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  for (let i = 0; i < 1000; i++) log.emit('settle', { i })
  const before = log.flush()
  const closing = log.close()
  const during = log.flush()
  const again = log.close({ timeoutMs: 100 })
  t.is(again, closing, 'a second close returns the same promise')
  const report = await closing
  const after = log.flush()
  t.deepEqual(await Promise.all([outcome(before), outcome(during), outcome(after)]), ['resolved', 'resolved', 'resolved'])
  t.is(report.sent, 1000)
  await server.close()
})

test('flushes racing a close at its deadline all settle, and none reports a lost record as delivered', async (t) => {
  const port = await deadPort()
  for (let round = 0; round < 5; round++) {
    const log = new FluentClient({ port, ...quick })
    log.on('error', () => {})
    log.emit('settle.race', { round })
    const first = outcome(log.flush({ timeoutMs: 60_000 }))
    const closing = log.close({ timeoutMs: 20 + round })
    // Flushes issued on both sides of the close deadline, some timing out before it.
    const flushes: Array<Promise<string>> = []
    for (let i = 0; i < 50; i++) {
      flushes.push(outcome(log.flush({ timeoutMs: i })))
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    const report = await closing
    t.is(report.pending, 1)
    const results = await Promise.all(flushes)
    t.false(results.includes('hung'), `round ${round}: ${results.join(',')}`)
    // Every flush pending when the record was given up on says so (or timed out first).
    t.is(await first, 'ERR_FLUENT_UNDELIVERED')
  }
})

test('a flush answers for losses since the previous flush call', async (t) => {
  const port = await deadPort()
  const log = new FluentClient({ port, ...quick })
  log.on('error', () => {})
  log.emit('settle.window', { a: 1 })
  await log.close({ timeoutMs: 0 })
  // The record was lost before this first flush: it was emitted before it and never delivered.
  t.is(await outcome(log.flush()), 'ERR_FLUENT_UNDELIVERED')
  // Nothing was lost since: the next flush has nothing to report.
  t.is(await outcome(log.flush()), 'resolved')
})

test('a shorter close timeout brings a draining close to an end', async (t) => {
  const port = await deadPort()
  const log = new FluentClient({ port, ...quick })
  log.on('error', () => {})
  log.emit('settle.shorter', { a: 1 })
  const closing = log.close({ timeoutMs: 60_000 })
  log.close({ timeoutMs: 0 })
  t.is(await outcome(closing, 5000), 'resolved')
  t.is((await closing).pending, 1)
})

test('flush rejects with ERR_FLUENT_UNDELIVERED when records were discarded meanwhile (dropOldest, server down)', async (t) => {
  const port = await deadPort()
  const log = new FluentClient({
    port,
    ...quick,
    overflow: 'dropOldest',
    maxBufferBytes: 64 * 1024,
    maxRecordBytes: 1024,
    batchBytes: 4096,
  })
  log.on('error', () => {})
  for (let i = 0; i < 200; i++) log.emit('settle.lost', { i, pad: 'x'.repeat(500) })
  const flushed = log.flush({ timeoutMs: 3000 })
  for (let i = 0; i < 200; i++) log.emit('settle.lost', { i, pad: 'y'.repeat(500) })
  const result = await outcome(flushed)
  t.true(result === 'ERR_FLUENT_UNDELIVERED' || result === 'ERR_FLUENT_TIMEOUT', result)
  const err = await flushed.catch((e: FluentError) => e)
  if (result === 'ERR_FLUENT_UNDELIVERED') t.true(((err as FluentError).records ?? 0) > 0)
  await log.close({ timeoutMs: 0 })
})
