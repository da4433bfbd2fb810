// Several clients in one process: each stages into its own buffer, and a client that is not the
// stage's owner has its records parked, never lost or reordered (issue 11, item 4).
import test from 'ava'
import { FluentClient } from '../index.js'
import { Receiver, quick } from './helpers.ts'

async function pair(): Promise<{ servers: Receiver[]; clients: FluentClient[] }> {
  const servers = [await Receiver.start(), await Receiver.start()]
  const clients = servers.map((s) => new FluentClient({ port: s.port, ...quick }))
  return { servers, clients }
}

const seqs = (r: Receiver): unknown[] => r.entries.map((e) => e.record.i)

test('records emitted to clients in turn arrive at each one whole and in order', async (t) => {
  const { servers, clients } = await pair()
  const n = 3000
  for (let i = 0; i < n; i++) t.true(clients[i % 2].emit('turns', { i, pad: 'x'.repeat(i % 200) }))
  const reports = await Promise.all(clients.map((c) => c.close()))
  t.deepEqual(
    reports.map((r) => r.sent),
    [n / 2, n / 2],
  )
  await Promise.all(servers.map((s) => s.waitFor(n / 2)))
  t.deepEqual(seqs(servers[0]), Array.from({ length: n / 2 }, (_, k) => 2 * k))
  t.deepEqual(seqs(servers[1]), Array.from({ length: n / 2 }, (_, k) => 2 * k + 1))
  await Promise.all(servers.map((s) => s.close()))
})

test('flush and stats of a client whose records are parked hand them over', async (t) => {
  const { servers, clients } = await pair()
  const [a, b] = clients
  a.emit('parked', { i: 1 })
  b.emit('parked', { i: 2 }) // b takes the stage; a's record waits, parked
  await a.flush({ timeoutMs: 5000 }) // before the stage's timer: flush hands the emits over itself
  t.true(await servers[0].waitFor(1, 5000))
  t.deepEqual(seqs(servers[0]), [1])
  a.emit('parked', { i: 3 }) // a takes the stage back; b's record is parked
  t.is(b.stats().emitted, 1)
  await Promise.all(clients.map((c) => c.close()))
  await Promise.all(servers.map((s) => s.waitFor(2 - servers.indexOf(s), 5000)))
  t.deepEqual(seqs(servers[0]), [1, 3])
  t.deepEqual(seqs(servers[1]), [2])
  await Promise.all(servers.map((s) => s.close()))
})

test('a record logged to a parked client from inside another client’s record comes after that client’s earlier ones', async (t) => {
  const { servers, clients } = await pair()
  const [a, b] = clients
  b.emit('nested', { i: 1 })
  a.emit('nested', {
    i: 10,
    get inner() {
      b.emit('nested', { i: 2 })
      return 'read'
    },
  })
  b.emit('nested', { i: 3 })
  await Promise.all(clients.map((c) => c.close()))
  await servers[1].waitFor(3, 5000)
  await servers[0].waitFor(1, 5000)
  t.deepEqual(seqs(servers[1]), [1, 2, 3])
  t.deepEqual(servers[0].entries.map((e) => e.record), [{ i: 10, inner: 'read' }])
  await Promise.all(servers.map((s) => s.close()))
})

test('a parked client that closes delivers its records; the other goes on', async (t) => {
  const { servers, clients } = await pair()
  const [a, b] = clients
  for (let i = 0; i < 10; i++) a.emit('close', { i })
  b.emit('close', { i: 100 })
  const report = await a.close()
  t.is(report.sent, 10)
  t.true(b.emit('close', { i: 101 }))
  await b.close()
  await servers[0].waitFor(10, 5000)
  await servers[1].waitFor(2, 5000)
  t.deepEqual(seqs(servers[0]), Array.from({ length: 10 }, (_, i) => i))
  t.deepEqual(seqs(servers[1]), [100, 101])
  await Promise.all(servers.map((s) => s.close()))
})

// Issue 28: a service logs one record per event-loop turn; each must be handed over by the stage
// itself (whatever hand-over timing the stage uses), with the time of its emit.
test('records emitted alone, one per event-loop turn, are handed over by themselves (no flush, stats or close)', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...quick })
  for (let i = 0; i < 5; i++) {
    t.true(client.emit('alone', { i }))
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.true(await server.waitFor(5, 10_000), `got ${server.entries.length}`)
  t.deepEqual(seqs(server), [0, 1, 2, 3, 4])
  // Each record's time is its emit's, not its handover's: in order, and none in the future.
  const times = server.entries.map((e) => {
    const time = e.time as { epoch: number; nano: number }
    return time.epoch + time.nano / 1e9
  })
  t.deepEqual([...times].sort((a, b) => a - b), times)
  t.true(times[times.length - 1] <= Date.now() / 1000 + 1)
  await client.close()
  await server.close()
})
