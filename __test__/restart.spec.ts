// The server stops and restarts mid-stream: nothing that fit in the buffer is lost.
import { once } from 'node:events'
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
    // Mid-stream means on an open connection with records already through it. The writer connects
    // on the first record; on a loaded machine it may not have connected before the first half is
    // emitted, and a server that stops before we ever reached it is a failed connect, not a
    // disconnect (CI saw exactly that once).
    const connected = once(client, 'connect')
    client.emit('restart.test', { i: 0 })
    await connected
    for (let i = 1; i < N / 2; i++) {
      client.emit('restart.test', { i })
      if (i % 1000 === 999) await sleep(1)
    }
    t.true(await server.waitFor(1))
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
