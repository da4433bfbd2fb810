// Several servers: failover when one is SIGKILLed under acks (and traffic again when it returns),
// the weighted split, and standbys.
import test from 'ava'
import { FluentClient } from '../index.js'
import type { DeliveredBatch } from '../index.js'
import { Receiver, quick, sleep, until } from './helpers.ts'
import { KillableServer, holdWhileEmitting, tally } from './kill-helpers.ts'

const host = '127.0.0.1'
const msg = 'a record that is about as long as a log line'
/** Fleet options for tests: quick reconnects and heartbeats, a short breaker cooldown. */
const fleet = { ...quick, heartbeatIntervalMs: 100, breaker: { cooldownMs: 500, maxCooldownMs: 1000 } }

test('two servers, one SIGKILLed mid-stream under acks: the other takes the rest with no loss, and the first gets traffic again when it returns', async (t) => {
  t.timeout(90_000)
  const a = await KillableServer.start()
  const b = await KillableServer.start()
  t.teardown(() => Promise.all([a.stop(), b.stop()]))
  const client = new FluentClient({
    servers: [
      { host, port: a.port },
      { host, port: b.port },
    ],
    requireAck: true,
    ackTimeoutMs: 5000,
    ...fleet,
  })
  client.on('error', () => {})
  let next = 0
  const emit = async (n: number) => {
    for (const end = next + n; next < end; next++) {
      client.emit('fleet.kill', { i: next, msg })
      if (next % 2000 === 1999) await sleep(1)
    }
  }
  await emit(50_000)
  // Unacked records on the server that dies: they must be resent to the other one.
  await holdWhileEmitting(a, () => emit(1000))
  await a.kill()
  const killedAt = next
  await emit(25_000)
  const whileDown = [killedAt, next]
  await a.restart()
  // Keep emitting until the restarted server has had traffic (bounded: 20 s).
  const deadline = Date.now() + 20_000
  while (a.ids(1).length === 0 && Date.now() < deadline) {
    await emit(2000)
    await sleep(20)
  }
  await emit(10_000)
  await client.flush({ timeoutMs: 30_000 })
  const stats = client.stats()
  const report = await client.close()
  await Promise.all([a.stop(), b.stop()])
  const N = next
  const got = tally(N, a.ids(), b.ids())
  t.log(`${N} records; a first ${a.ids(0).length}, b ${b.ids().length}, a restarted ${a.ids(1).length}; server duplicates ${got.duplicates}, client ${stats.duplicates}`)
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} record(s) lost`)
  t.is(got.strays, 0)
  t.true(got.duplicates <= stats.duplicates, `server saw ${got.duplicates} duplicates, the client counted ${stats.duplicates}`)
  t.is(report.sent, N)
  // The dead server got nothing emitted after its death; the other server took those records.
  const firstLife = a.ids(0)
  t.false(firstLife.some((id) => id >= whileDown[1]))
  const atB = b.ids().filter((id) => id >= whileDown[0] && id < whileDown[1]).length
  t.true(atB > 0, 'the surviving server took the records emitted while the other was dead')
  t.true(a.ids(1).length > 0, 'the restarted server gets traffic again')
  t.true(stats.servers[0].batches > 0 && stats.servers[1].batches > 0)
})

test('without acks too, a server that comes back while the other takes every batch (the writer always busy) gets traffic again', async (t) => {
  const r1 = await Receiver.start()
  const r2 = await Receiver.start()
  const client = new FluentClient({
    servers: [
      { host, port: r1.port },
      { host, port: r2.port },
    ],
    ...fleet,
  })
  client.on('error', () => {})
  let next = 0
  const burst = async (n: number) => {
    for (const end = next + n; next < end; next++) client.emit('fleet.back', { i: next, msg })
    await new Promise((resolve) => setImmediate(resolve))
  }
  while (r1.entries.length === 0 || r2.entries.length === 0) await burst(2000)
  let back = -1
  const restarting = r1.restartAfter(300).then(() => {
    back = r1.entries.length
  })
  // A stream faster than the other server takes it, through the outage and after it, so that the
  // writer always has a batch ready, until the returned server has had traffic (bounded: 20 s).
  const deadline = Date.now() + 20_000
  while ((back < 0 || r1.entries.length === back) && Date.now() < deadline) await burst(50_000)
  await restarting
  const after = r1.entries.length - back
  await client.close()
  await Promise.all([r1.close(), r2.close()])
  t.log(`${next} records; the returned server got ${after} after its return`)
  t.true(after > 0, 'the returned server gets traffic again')
})

test('weights 3:1 split the batches 3:1 (within 10 %)', async (t) => {
  const r1 = await Receiver.start()
  const r2 = await Receiver.start()
  const client = new FluentClient({
    servers: [
      { host, port: r1.port, weight: 3 },
      { host, port: r2.port, weight: 1 },
    ],
    batchBytes: 4096,
    ...fleet,
  })
  const delivered = new Map<string, number>()
  client.on('delivered', (b: DeliveredBatch) => delivered.set(b.server, (delivered.get(b.server) ?? 0) + 1))
  const N = 40_000
  for (let i = 0; i < N; i++) {
    client.emit('fleet.weights', { i, msg })
    if (i % 1000 === 999) await sleep(1)
  }
  await client.flush({ timeoutMs: 20_000 })
  const [s1, s2] = client.stats().servers
  await client.close()
  // Both servers may still be decoding: wait (bounded) for the sum, not for a share taken while r1 still counts.
  await until(() => r1.entries.length + r2.entries.length >= N, 20_000)
  t.is(r1.entries.length + r2.entries.length, N)
  await Promise.all([r1.close(), r2.close()])
  const ratio = s1.batches / s2.batches
  t.log(`batches ${s1.batches}:${s2.batches} = ${ratio.toFixed(3)}; records ${r1.entries.length}:${r2.entries.length}`)
  t.true(s1.batches + s2.batches >= 200, 'enough batches to judge a split')
  t.true(Math.abs(ratio - 3) <= 0.3, `split ${ratio}`)
  // The 'delivered' events tell the same story as the stats.
  t.is(delivered.get(`${host}:${r1.port}`), s1.batches)
  t.is(delivered.get(`${host}:${r2.port}`), s2.batches)
  t.is(r1.entries.length + r2.entries.length, N)
})

test('a standby gets nothing while a regular server is healthy, and everything while none is', async (t) => {
  const regular = await Receiver.start()
  const standby = await Receiver.start()
  const client = new FluentClient({
    servers: [
      { host, port: regular.port },
      { host, port: standby.port, standby: true },
    ],
    requireAck: true,
    ...fleet,
  })
  client.on('error', () => {})
  const N = 10_000
  for (let i = 0; i < N; i++) client.emit('fleet.standby', { i, msg })
  await client.flush({ timeoutMs: 20_000 })
  t.is(regular.entries.length, N)
  t.is(standby.entries.length, 0)
  t.is(client.stats().servers[1].batches, 0)
  // The regular server goes away; once the client has noticed, everything goes to the standby.
  const gone = new Promise<void>((resolve) =>
    client.on('disconnect', (_e, server) => {
      if (server === `${host}:${regular.port}`) resolve()
    }),
  )
  await regular.close()
  await gone
  for (let i = N; i < 2 * N; i++) client.emit('fleet.standby', { i, msg })
  await client.flush({ timeoutMs: 20_000 })
  const stats = client.stats()
  await client.close()
  await standby.close()
  t.is(regular.entries.length, N, 'the regular server got nothing more')
  const atStandby = new Set(standby.entries.map((e) => e.record.i as number))
  t.is(atStandby.size, N)
  for (let i = N; i < 2 * N; i++) if (!atStandby.has(i)) return t.fail(`record ${i} did not reach the standby`)
  t.true(stats.servers[1].batches > 0)
  t.is(stats.sent, 2 * N)
})
