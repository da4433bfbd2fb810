// The server stops and restarts mid-stream: nothing that fit in the buffer is lost.
import test from 'ava'
import { FluentClient } from '../index.js'
import { Receiver, quick, sleep } from './helpers.ts'

const N = 20_000

for (const requireAck of [false, true]) {
  test.serial(`server restart mid-stream loses nothing (requireAck: ${requireAck})`, async (t) => {
    const server = await Receiver.start()
    const client = new FluentClient({ port: server.port, requireAck, ackTimeoutMs: 2000, ...quick })
    const disconnects: unknown[] = []
    client.on('disconnect', (e) => disconnects.push(e))
    client.on('error', () => {})
    for (let i = 0; i < N / 2; i++) {
      client.emit('restart.test', { i })
      if (i % 1000 === 999) await sleep(1)
    }
    // Stop while records are still flowing, emit through the outage, then come back.
    const restarting = server.restartAfter(300)
    for (let i = N / 2; i < N; i++) {
      client.emit('restart.test', { i })
      if (i % 1000 === 999) await sleep(20)
    }
    await restarting
    await client.flush({ timeoutMs: 20_000 })
    const report = await client.close()
    t.true(await server.waitFor(N))
    await server.close()
    const seen = new Set(server.entries.map((e) => e.record.i as number))
    const missing = []
    for (let i = 0; i < N; i++) if (!seen.has(i)) missing.push(i)
    t.deepEqual(missing, [], `missing ${missing.length} records`)
    t.is(report.sent, N)
    t.is(report.pending, 0)
    t.true(disconnects.length >= 1)
    t.true(client.stats().reconnects >= 1)
  })
}
