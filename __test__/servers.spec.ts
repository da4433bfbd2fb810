// Several servers against real FluentServers: the split, failover when one stops, per-server TLS
// and security overriding the client-wide settings, 'delivered' events and stats().servers.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { FluentServer } from '@fluent-org/logger'
import type { FluentServerOptions } from '@fluent-org/logger'
import { FluentClient, FluentError } from '../index.js'
import type { DeliveredBatch } from '../index.js'
import { Receiver, deadPort, quick, sleep, until } from './helpers.ts'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), 'utf8')

async function serve(options: FluentServerOptions = {}): Promise<{ srv: FluentServer; got: number[]; port: number }> {
  const srv = new FluentServer({ ...options, listenOptions: { port: 0, host: '127.0.0.1' } })
  const got: number[] = []
  srv.on('entry', (_tag: string, _time: unknown, record: Record<string, unknown>) => got.push(record.i as number))
  srv.on('error', () => {})
  await srv.listen()
  return { srv, got, port: srv.port as number }
}

test('batches spread over two servers by weight, and each server is in stats().servers', async (t) => {
  const [a, b] = [await Receiver.start(), await Receiver.start()]
  const log = new FluentClient({
    ...quick,
    batchBytes: 256,
    servers: [
      { host: '127.0.0.1', port: a.port, weight: 3 },
      { host: '127.0.0.1', port: b.port, weight: 1 },
    ],
  })
  const errors: FluentError[] = []
  log.on('error', (e: FluentError) => errors.push(e))
  for (let i = 0; i < 4000; i++) log.emit('fleet', { i, pad: 'x'.repeat(30) })
  await log.flush()
  const s = log.stats()
  t.deepEqual(
    s.servers.map((v) => v.address),
    [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
  )
  const [ba, bb] = s.servers.map((v) => v.batches)
  t.true(Math.abs(ba / (ba + bb) - 0.75) <= 0.075, `batches ${ba}:${bb}`)
  t.is(s.servers[0].sent + s.servers[1].sent, 4000)
  t.true(s.servers.every((v) => v.healthy && v.breaker === 'closed'))
  await log.close()
  await until(() => a.entries.length + b.entries.length >= 4000)
  const ids = [...a.entries, ...b.entries].map((e) => e.record.i as number).sort((x, y) => x - y)
  t.deepEqual(ids, Array.from({ length: 4000 }, (_, i) => i))
  t.deepEqual(errors, [])
  await Promise.all([a.close(), b.close()])
})

test('when one server stops, the other receives the rest with acks, nothing lost', async (t) => {
  const [a, b] = [await Receiver.start(), await Receiver.start()]
  const log = new FluentClient({
    ...quick,
    requireAck: true,
    batchBytes: 4096,
    heartbeatIntervalMs: 100,
    servers: [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ],
  })
  log.on('error', () => {})
  const disconnects: string[] = []
  log.on('disconnect', (_e: unknown, server: string) => disconnects.push(server))
  for (let i = 0; i < 5000; i++) log.emit('fleet', { i })
  await log.flush()
  await a.close()
  for (let i = 5000; i < 10000; i++) log.emit('fleet', { i })
  await log.flush({ timeoutMs: 20_000 })
  const report = await log.close()
  t.is(report.sent, 10000)
  t.is(report.pending, 0)
  const ids = new Set([...a.entries, ...b.entries].map((e) => e.record.i as number))
  t.is(ids.size, 10000)
  t.true(b.entries.length >= 5000)
  t.true(disconnects.includes(`127.0.0.1:${a.port}`), disconnects.join())
  await b.close()
})

test('a standby takes traffic only while no regular server is up', async (t) => {
  const regular = await Receiver.start()
  const standby = await Receiver.start()
  const log = new FluentClient({
    ...quick,
    requireAck: true,
    heartbeatIntervalMs: 50,
    servers: [
      { host: '127.0.0.1', port: regular.port },
      { host: '127.0.0.1', port: standby.port, standby: true },
    ],
  })
  log.on('error', () => {})
  for (let i = 0; i < 1000; i++) log.emit('fleet', { i })
  await log.flush()
  t.is(standby.entries.length, 0)
  await regular.close()
  for (let i = 1000; i < 2000; i++) log.emit('fleet', { i })
  await log.flush({ timeoutMs: 20_000 })
  t.true(standby.entries.length >= 1000, `standby got ${standby.entries.length}`)
  // The regular server returns on its port: within a few heartbeats it has the traffic again.
  await regular.restartAfter(0)
  await until(() => log.stats().servers[0].healthy)
  const before = standby.entries.length
  for (let i = 2000; i < 3000; i++) log.emit('fleet', { i })
  await log.flush({ timeoutMs: 20_000 })
  t.is(standby.entries.length, before, 'the standby got traffic again although the regular server was back')
  const ids = new Set([...regular.entries, ...standby.entries].map((e) => e.record.i as number))
  t.is(ids.size, 3000)
  await log.close()
  await Promise.all([regular.close(), standby.close()])
})

test('per-server tls and security override the client-wide ones (false turns them off)', async (t) => {
  const SHARED_KEY = 'fleet-key-7d1'
  const tlsServer = await serve({ tlsOptions: { cert: fixture('server.pem'), key: fixture('server.key') } })
  const authServer = await serve({ security: { serverHostname: 'agg', sharedKey: SHARED_KEY, authorize: false, userDict: {} } })
  const plain = await serve()
  const log = new FluentClient({
    ...quick,
    requireAck: true,
    batchBytes: 512,
    tls: { ca: fixture('ca.pem') },
    servers: [
      { host: '127.0.0.1', port: tlsServer.port },
      { host: '127.0.0.1', port: authServer.port, tls: false, security: { clientHostname: 'app', sharedKey: SHARED_KEY } },
      { host: '127.0.0.1', port: plain.port, tls: false },
    ],
  })
  const errors: FluentError[] = []
  log.on('error', (e: FluentError) => errors.push(e))
  for (let i = 0; i < 3000; i++) log.emit('secure.fleet', { i, pad: 'y'.repeat(20) })
  const report = await log.close({ timeoutMs: 10_000 })
  t.deepEqual(errors.map((e) => e.code), [])
  t.is(report.sent, 3000)
  for (const s of [tlsServer, authServer, plain]) t.true(s.got.length > 0, 'each server got a share')
  t.is(new Set([...tlsServer.got, ...authServer.got, ...plain.got]).size, 3000)
  await Promise.all([tlsServer.srv.close(), authServer.srv.close(), plain.srv.close()])
})

test("'delivered' reports each batch with its records and server, only while someone listens", async (t) => {
  const r = await Receiver.start()
  const log = new FluentClient({ ...quick, port: r.port, requireAck: true })
  log.emit('before', { i: -1 })
  await log.flush()
  const seen: DeliveredBatch[] = []
  const listener = (b: DeliveredBatch) => seen.push(b)
  log.on('delivered', listener)
  for (let i = 0; i < 100; i++) log.emit('rep', { i })
  await log.flush()
  await until(() => seen.reduce((n, b) => n + b.count, 0) >= 100)
  t.is(seen.reduce((n, b) => n + b.count, 0), 100)
  t.true(seen.every((b) => b.tag === 'rep' && b.acked && b.server === `127.0.0.1:${r.port}`))
  t.deepEqual(
    seen.flatMap((b) => b.records.map((x) => x.record.i)),
    Array.from({ length: 100 }, (_, i) => i),
  )
  t.true(seen[0].records[0].time.epoch > 1_700_000_000)
  log.off('delivered', listener)
  log.emit('after', { i: 100 })
  await log.flush()
  // Nothing should come: wait until the record is at the server, then a little for a late report.
  await until(() => r.entries.some((e) => e.record.i === 100))
  await sleep(50)
  t.is(seen.reduce((n, b) => n + b.count, 0), 100, 'no report once the listener is gone')
  await log.close()
  await r.close()
})

test('servers options are checked: shape, exclusivity, weights, standbys, unknown keys', (t) => {
  const bad = (options: object, match: RegExp) => {
    const e = t.throws(() => new FluentClient(options as never)) as FluentError
    t.is(e.code, 'ERR_FLUENT_CONFIG')
    t.regex(e.message, match)
  }
  bad({ servers: [] }, /non-empty array/)
  bad({ servers: [{ host: 'a' }], port: 1 }, /replaces host, port and path/)
  bad({ servers: [{ host: 'a', weight: 0 }] }, /servers\[0\]\.weight must be an integer in 1\.\.1000/)
  bad({ servers: [{ host: 'a', standby: true }] }, /at least one server must not be a standby/)
  bad({ servers: [{ host: 'a', wieght: 2 }] }, /unknown option "servers\[0\]\.wieght" \(did you mean "weight"\?\)/)
  bad({ servers: [{ port: 1 }] }, /needs host/)
  bad({ servers: [{ path: '/x', port: 1 }] }, /exclusive/)
  bad({ servers: [{ path: '/x', tls: true }] }, /TLS needs host and port/)
  bad({ tls: true, servers: [{ host: 'a' }, { path: '/x' }] }, /servers\[1\]: tls needs a host and port/)
  bad({ heartbeat: 'icmp' }, /heartbeat must be one of "udp", "tcp", "none"/)
  bad({ errorHandler: 'file' }, /errorHandler must be a function/)
  bad({ errorHandlerTimeoutMs: 0 }, /errorHandlerTimeoutMs must be an integer in 1\.\.86400000/)
})

test('a dead server in the fleet is skipped and its breaker opens on missed heartbeats', async (t) => {
  const live = await Receiver.start()
  const dead = await deadPort()
  const log = new FluentClient({
    ...quick,
    heartbeatIntervalMs: 20,
    breaker: { failureThreshold: 3 },
    servers: [
      { host: '127.0.0.1', port: dead },
      { host: '127.0.0.1', port: live.port },
    ],
  })
  log.on('error', () => {})
  const breaker: Array<{ state: string; server: string }> = []
  log.on('breaker', (e: { state: string; server: string }) => breaker.push(e))
  for (let i = 0; i < 1000; i++) log.emit('fleet', { i })
  await log.flush()
  t.true(await live.waitFor(1000))
  await until(() => breaker.some((e) => e.state === 'open'), 5000)
  t.deepEqual(breaker[0], { state: 'open', server: `127.0.0.1:${dead}` })
  const s = log.stats().servers
  t.false(s[0].healthy)
  t.true(s[1].healthy)
  await log.close()
  await live.close()
})
