// The server down for a minute while records keep coming: memory stays bounded, the overflow
// policy decides what is dropped, every drop is counted and reaches the failure handler, and what
// stayed buffered is delivered once the server is back. Its own file: it takes a minute, and ava
// runs other files beside it.
import test from 'ava'
import { FluentClient } from '../index.js'
import type { FailedBatch } from '../index.js'
import { deadPort, quick, sleep } from './helpers.ts'
import { KillableServer } from './kill-helpers.ts'

const CAP = 32 << 20
const RATE = 50_000
const DOWN_MS = 60_000
const N = (RATE * DOWN_MS) / 1000
/**
 * What memory outside the V8 heap (RSS minus the heap V8 has reserved) may grow by beyond the cap:
 * the failure handler's backlog (errorHandlerMaxBytes, 8 MiB by default) is bounded apart from the
 * cap, the rest is allocator slack. The V8 heap is left out of the bound: it holds the records this
 * test's handler decodes until V8 collects them, and how long V8 lets that garbage grow is the Node
 * version's policy (+16 MiB at the peak on Node 20, +50 MiB on Node 22/24 here), not anything the
 * client keeps: its buffers are native memory and Buffers, both outside the heap. Both are logged.
 */
const SLACK = 48 << 20
const mib = (n: number) => (n / 2 ** 20).toFixed(1)

test('server down 60 s at 50,000 records/s: RSS within the cap plus a constant, drops by the overflow policy reach the handler, the buffered rest arrives', async (t) => {
  t.timeout(DOWN_MS + 90_000)
  const port = await deadPort()
  // Allocated before the baseline: they are the test's, not the client's.
  const accepted = new Uint8Array(N)
  const handed = new Uint8Array(N)
  const reasons = new Map<string, number>()
  let handedRecords = 0
  const handler = (_err: unknown, batch: FailedBatch) => {
    reasons.set(batch.reason, (reasons.get(batch.reason) ?? 0) + batch.count)
    if (batch.reason !== 'dropped') return false
    for (const { record } of batch.records) handed[record.i as number]++
    handedRecords += batch.count
    return true
  }
  const client = new FluentClient({
    port,
    maxBufferBytes: CAP,
    overflow: 'dropNewest',
    ...quick,
    // This test is about the cap: the breaker never opens here (its 'unavailable' offers are
    // tested elsewhere), so everything the cap admits stays buffered for the server's return.
    breaker: { failureThreshold: 1000 },
    errorHandler: handler,
  })
  client.on('error', () => {})
  global.gc?.()
  const base = process.memoryUsage()
  const outside = (m: NodeJS.MemoryUsage) => m.rss - m.heapTotal
  const before = outside(base)
  let peak = before
  let atPeak = base
  let rssPeak = base.rss
  const sampler = setInterval(() => {
    const m = process.memoryUsage()
    rssPeak = Math.max(rssPeak, m.rss)
    if (outside(m) > peak) {
      peak = outside(m)
      atPeak = m
    }
  }, 100)
  // Records at RATE per second by the clock, in small slices so the handler runs between them.
  const started = Date.now()
  let next = 0
  while (next < N) {
    const due = Math.min(N, Math.floor(((Date.now() - started) * RATE) / 1000))
    for (; next < due; next++) {
      if (client.emit('outage.test', { i: next, msg: 'a record that is about as long as a log line' })) accepted[next] = 1
    }
    await sleep(5)
  }
  const emitMs = Date.now() - started
  // The server runs in its own process, so that what it decodes is not in this RSS.
  const server = await KillableServer.start(port)
  t.teardown(() => server.stop())
  await client.flush({ timeoutMs: 60_000 })
  clearInterval(sampler)
  const report = await client.close()
  // After the close the failure handler has answered for everything it was given.
  const stats = client.stats()
  let acceptedCount = 0
  for (let i = 0; i < N; i++) acceptedCount += accepted[i]
  // Its ids reach its file at the end of each request's tick: wait (bounded) for the last ones.
  const until = Date.now() + 30_000
  while (server.ids().length < acceptedCount && Date.now() < until) await sleep(20)
  await server.stop()
  const growth = peak - before
  t.log(
    `emitted ${N} in ${emitMs} ms; accepted ${acceptedCount}, dropped ${stats.dropped}, handed to the handler ${handedRecords}, handler overflow ${stats.handlerOverflow}; reasons ${JSON.stringify([...reasons])}; memory outside the V8 heap +${mib(growth)} MiB over ${mib(before)} MiB (cap ${CAP / 2 ** 20} MiB), RSS peak +${mib(rssPeak - base.rss)} MiB; at the peak, V8 heap +${mib(atPeak.heapTotal - base.heapTotal)} MiB, Buffers +${mib(atPeak.arrayBuffers - base.arrayBuffers)} MiB`,
  )
  t.true(growth <= CAP + SLACK, `memory outside the V8 heap grew ${mib(growth)} MiB`)
  // dropNewest: what was refused at emit is exactly what emit refused; nothing accepted was dropped later.
  t.is(stats.refused, N - acceptedCount)
  t.true(stats.refused > N / 2, 'the outage overflowed the cap')
  // Every refusal reached the handler (which took it: handled, not dropped), but those beyond its
  // own backlog cap, which are counted and dropped.
  t.is(handedRecords, stats.refused - stats.handlerOverflow)
  t.is(stats.handled, handedRecords)
  t.is(stats.dropped, stats.handlerOverflow)
  let wrong = 0
  for (let i = 0; i < N; i++) if (handed[i] > 1 || (handed[i] === 1 && accepted[i] === 1)) wrong++
  t.is(wrong, 0, 'the handler got only refused records, each once')
  // Everything that stayed buffered arrived, exactly the accepted records.
  const got = new Uint8Array(N)
  for (const i of server.ids()) got[i]++
  let mismatched = 0
  for (let i = 0; i < N; i++) if (got[i] !== accepted[i]) mismatched++
  t.is(mismatched, 0, 'the server got exactly the accepted records, each once')
  t.is(report.sent, acceptedCount)
  t.is(report.pending, 0)
  t.deepEqual([...reasons.keys()], ['dropped'])
})
