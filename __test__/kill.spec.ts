// A real server SIGKILLed mid-stream (no FIN from a close(), no chance to flush) and started again
// on the same port, with acks on: at-least-once means every record arrives, and every record that
// arrived twice was counted as a possible duplicate by the client.
import test from 'ava'
import { FluentClient } from '../index.js'
import { quick, sleep } from './helpers.ts'
import { KillableServer, holdWhileEmitting, tally } from './kill-helpers.ts'

const N = 200_000

test('a server SIGKILLed and restarted mid-stream under acks: every record arrives at least once, duplicates counted', async (t) => {
  t.timeout(100_000)
  const server = await KillableServer.start()
  t.teardown(() => server.stop())
  // A short breaker cooldown: the restart may take long enough for five failed connects to open it,
  // and the default 10 s cooldown would only make the test slower.
  const client = new FluentClient({ port: server.port, requireAck: true, ackTimeoutMs: 5000, breaker: { cooldownMs: 300 }, ...quick })
  const codes = new Map<string, number>()
  client.on('error', (e) => codes.set(e.code, (codes.get(e.code) ?? 0) + 1))
  let disconnects = 0
  client.on('disconnect', () => disconnects++)
  let next = 0
  const emitTo = async (to: number) => {
    for (; next < to; next++) {
      client.emit('kill.test', { i: next, msg: 'a record that is about as long as a log line' })
      if (next % 2000 === 1999) await sleep(1)
    }
  }
  await emitTo(N / 4)
  // The server stops acking before it dies, so the kill leaves records it has but whose acks never
  // left: those must be sent again, and counted as duplicates.
  await holdWhileEmitting(server, () => emitTo(Math.min(next + 1000, N / 2)))
  await server.kill()
  await emitTo((3 * N) / 4)
  await server.restart()
  await emitTo(N)
  await client.flush({ timeoutMs: 60_000 })
  const stats = client.stats()
  const report = await client.close()
  await server.stop()
  const got = tally(N, server.ids())
  t.log(`server duplicates ${got.duplicates}, client duplicates ${stats.duplicates}, retries ${stats.retries}, disconnects ${disconnects}, errors ${JSON.stringify([...codes])}`)
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} record(s) never arrived`)
  t.is(got.strays, 0)
  t.true(got.duplicates > 0, 'records the dead server had but never acked came again')
  t.true(got.duplicates <= stats.duplicates, `server saw ${got.duplicates} duplicates, the client counted ${stats.duplicates}`)
  t.true(disconnects >= 1)
  t.is(report.sent, N)
  t.is(report.pending, 0)
  t.is(report.dropped, 0)
})
