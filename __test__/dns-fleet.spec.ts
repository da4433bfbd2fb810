// A fleet found through DNS (`resolve: 'all'`) against real FluentServers, with a resolver the test
// controls: the client runs in a private mount namespace whose /etc/hosts the test rewrites
// (`dns/namespace.ts`), and each address of the name (127.0.0.2, 127.0.0.3, ...) is its own
// FluentServer on the same port, as the pods of a headless service are. Members join and leave
// while records flow under requireAck; nothing is lost and the accounting identity is exact.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { FluentServer } from '@fluent-org/logger'
import { Hosts, namespaceUnavailable, startClient } from './dns/namespace.js'
import type { ChildResult, FleetChild } from './dns/namespace.js'
import { sleep, until } from './helpers.js'
import { renderMetrics } from '../src/metrics.js'
import type { FluentStats } from '../index.js'

const NAME = 'fleet.test'
/** The re-resolution interval of these tests (dnsTtlMs). */
const TTL = 500

/** One pod of the fleet: a FluentServer on its own loopback address. */
class Pod {
  readonly ns = new Set<number>()
  entries = 0
  server: FluentServer

  constructor(
    readonly ip: string,
    port: number,
  ) {
    this.server = new FluentServer({ listenOptions: { port, host: ip } })
    this.server.on('entry', (_tag: string, _time: unknown, record: { n: number }) => {
      this.entries++
      this.ns.add(record.n)
    })
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      const net = (this.server as unknown as { server: import('node:net').Server }).server
      net.once('error', reject)
      void this.server.listen().then(resolve)
    })
    return this.server.port as number
  }

  address(): string {
    return `${this.ip}:${this.server.port}`
  }
}

/** Pods on 127.0.0.2, .3, ... sharing one port (taken by the first, free on the others). */
async function pods(n: number): Promise<Pod[]> {
  const first = new Pod('127.0.0.2', 0)
  const port = await first.listen()
  const rest = Array.from({ length: n - 1 }, (_, i) => new Pod(`127.0.0.${i + 3}`, port))
  for (const p of rest) await p.listen()
  return [first, ...rest]
}

function options(port: number): Record<string, unknown> {
  return {
    servers: [{ host: NAME, port, resolve: 'all' }],
    requireAck: true,
    dnsTtlMs: TTL,
    flushIntervalMs: 5,
    reconnectInitialDelayMs: 20,
    reconnectMaxDelayMs: 200,
    connectTimeoutMs: 1000,
    heartbeatIntervalMs: 100,
  }
}

/** The addresses `stats().servers` lists now. */
async function members(c: FleetChild): Promise<string[]> {
  const s = await c.stats()
  return s.stats.servers.map((v) => v.address).sort()
}

async function untilMembers(c: FleetChild, want: Pod[]): Promise<boolean> {
  const expected = want.map((p) => p.address()).sort().join(',')
  const end = Date.now() + 15_000
  while (Date.now() < end) {
    if ((await members(c)).join(',') === expected) return true
    await sleep(50)
  }
  return false
}

const TERMS = ['sent', 'dropped', 'rejected', 'handled', 'pending'] as const

/** Nothing lost: every emitted record reached a pod, and the identity holds exactly. */
function nothingLost(t: ExecutionContext, r: ChildResult, all: Pod[]): void {
  t.deepEqual(r.troubles, [])
  t.is(r.refused, 0)
  const { report } = r
  t.is(report.emitted, r.emitted, JSON.stringify(report))
  t.is(report.sent, r.emitted, JSON.stringify(report))
  t.is(report.pending + report.dropped + report.rejected, 0, JSON.stringify(report))
  const right = TERMS.reduce((sum, k) => sum + (report[k] ?? 0), 0)
  t.is(report.emitted + report.refused, right, `identity: ${JSON.stringify(report)}`)
  const seen = new Set<number>()
  for (const p of all) for (const n of p.ns) seen.add(n)
  const missing: number[] = []
  for (let n = 0; n < r.emitted && missing.length < 10; n++) if (!seen.has(n)) missing.push(n)
  t.deepEqual(missing, [], 'records lost (first ten)')
}

/** Fails the test, saying why, when no namespace can be had (never a skip). */
function needNamespace(t: ExecutionContext): boolean {
  const why = namespaceUnavailable()
  if (why !== undefined) t.fail(why)
  return why === undefined
}

test('members join and leave while records flow under acks: nothing lost, a new member used within one TTL', async (t) => {
  if (!needNamespace(t)) return
  const [a, b, c] = await pods(3)
  const hosts = new Hosts(NAME)
  hosts.set([a.ip, b.ip])
  const client = startClient(hosts, options(a.server.port as number))
  try {
    t.true(await until(() => a.entries > 0 && b.entries > 0, 15_000), `a and b never both took records: ${client.stderr()}`)
    t.true(await untilMembers(client, [a, b]))
    // a leaves, c joins. A lookup is due at most one TTL after the change; the rest is a connect
    // and a flush interval on loopback (the allowance beyond the TTL is for a loaded CI machine).
    hosts.set([b.ip, c.ip])
    const changed = Date.now()
    t.true(await until(() => c.entries > 0, 15_000), 'c never took records')
    const joinedMs = Date.now() - changed
    t.log(`new member used ${joinedMs} ms after the change (dnsTtlMs ${TTL})`)
    t.true(joinedMs <= TTL + 2000, `c was first used ${joinedMs} ms after it appeared, the TTL is ${TTL} ms`)
    // a is drained (its acks come back: it is up) and its slot freed; then it gets nothing more.
    t.true(await untilMembers(client, [b, c]), `stats still list a: ${(await members(client)).join(' ')}`)
    // The metrics follow: a series per member now, none for a.
    const text = renderMetrics((await client.stats()).stats as unknown as FluentStats)
    for (const p of [b, c]) t.true(text.includes(`fluent_native_connected{server="${p.address()}"}`), text)
    t.false(text.includes(a.address()), 'metrics still show the member that left')
    const aLeft = a.entries
    await sleep(3 * TTL)
    t.is(a.entries, aLeft, 'a member that left got records')
    // a is back: a new member, used without a restart.
    hosts.set([a.ip, b.ip, c.ip])
    t.true(await until(() => a.entries > aLeft, 15_000), 'a never took records again')
    t.true(await untilMembers(client, [a, b, c]))
    const r = await client.close()
    nothingLost(t, r, [a, b, c])
    // Connect events name each member by its own address.
    t.deepEqual([...new Set(r.connects.map(([s]) => s))].sort(), [a, b, c].map((p) => p.address()).sort())
  } finally {
    client.child.kill('SIGKILL')
    hosts.remove()
    await Promise.all([a, b, c].map((p) => p.server.close()))
  }
})

test('a rolling restart of the aggregators: each replaced at a new address, the old one gone at once', async (t) => {
  if (!needNamespace(t)) return
  const [a, b, c, d] = await pods(4)
  const hosts = new Hosts(NAME)
  hosts.set([a.ip, b.ip])
  const client = startClient(hosts, options(a.server.port as number))
  try {
    t.true(await until(() => a.entries > 0 && b.entries > 0, 15_000), `a and b never both took records: ${client.stderr()}`)
    // As a StatefulSet rolls: a pod is terminated (its connections end, what it had not acked is
    // resent elsewhere) and its successor comes up at a new address; then the next one.
    for (const [old, successor, rest] of [
      [a, c, b],
      [b, d, c],
    ] as const) {
      hosts.set([successor.ip, rest.ip])
      await old.server.close()
      t.true(await until(() => successor.entries > 0, 15_000), `${successor.ip} never took records`)
      t.true(await untilMembers(client, [successor, rest]), `members: ${(await members(client)).join(' ')}`)
    }
    const r = await client.close()
    t.log(`${r.emitted} records, duplicates ${(r.stats as Record<string, number>).duplicates}`)
    nothingLost(t, r, [a, b, c, d])
  } finally {
    client.child.kill('SIGKILL')
    hosts.remove()
    await Promise.all([b, c, d].map((p) => p.server.close()))
  }
})

test('bad resolve entries are ERR_FLUENT_CONFIG naming the entry', async (t) => {
  const { FluentClient } = await import('../index.js')
  const make = (o: Record<string, unknown>) => () => new FluentClient(o as never)
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ servers: [{ host: NAME, resolve: 'every' }] }, /servers\[0\]\.resolve/],
    [{ servers: [{ host: NAME, resolve: true }] }, /servers\[0\]\.resolve/],
    [{ servers: [{ host: NAME }, { path: '/tmp/f.sock', resolve: 'all' }] }, /servers\[1\]: resolve: 'all' needs a host name and port, not a unix socket path/],
    [{ servers: [{ host: '10.0.0.1', resolve: 'all' }] }, /servers\[0\]: resolve: 'all' needs a host name whose addresses are the fleet, got the address "10.0.0.1"/],
    // Only in a servers entry: the top level takes one server.
    [{ host: NAME, resolve: 'all' }, /unknown option "resolve"/],
  ]
  for (const [o, message] of cases) {
    const err = t.throws(make(o), { message }, JSON.stringify(o))
    t.is((err as { code?: string } | undefined)?.code, 'ERR_FLUENT_CONFIG')
  }
})
