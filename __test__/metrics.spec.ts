// Observability: Prometheus text from stats(), prom-client registration, diagnostics_channel messages.
import test from 'ava'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Registry } from 'prom-client'
import { createRequire } from 'node:module'
import { FluentClient, FluentReceiver, METRIC_NAMES, collectMetrics } from '../index.js'
import { EXPORTED_STATS } from '../src/metrics.js'
import type { FluentError } from '../index.js'
import { deadPort, quick, until } from './helpers.ts'

/** Every line is a comment or `name{labels} value`, and every metric has HELP and TYPE. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>()
  const typed = new Set<string>()
  for (const line of text.trimEnd().split('\n')) {
    const type = /^# TYPE (\w+) (counter|gauge)$/.exec(line)
    if (type) typed.add(type[1])
    if (line.startsWith('#') || line === '') continue
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`bad exposition line: ${line}`)
    if (!typed.has(m[1])) throw new Error(`sample before its TYPE: ${line}`)
    samples.set(m[1] + (m[2] ?? ''), Number(m[3]))
  }
  return samples
}

test('metrics() is Prometheus text with the delivered counts', async (t) => {
  const r = await FluentReceiver.listen()
  t.teardown(() => r.close())
  const client = new FluentClient({ port: r.port, requireAck: true })
  for (let i = 0; i < 100; i++) client.emit('m', { i })
  await client.flush()
  const m = parse(client.metrics({ service: 'a"b' }))
  t.is(m.get('fluent_native_records_sent_total{service="a\\"b"}'), 100)
  t.is(m.get('fluent_native_records_emitted_total{service="a\\"b"}'), 100)
  const server = `server="127.0.0.1:${r.port}"`
  t.is(m.get(`fluent_native_connected{service="a\\"b",${server}}`), 1)
  t.is(m.get(`fluent_native_breaker_state{service="a\\"b",${server},state="closed"}`), 1)
  t.is(m.get(`fluent_native_breaker_state{service="a\\"b",${server},state="open"}`), 0)
  for (const name of METRIC_NAMES) {
    t.true([...m.keys()].some((k) => k.startsWith(name + '{')), name)
    t.is(name.endsWith('_total'), client.metrics().includes(`# TYPE ${name} counter`), name)
  }
  t.is(client.metrics().split('\n').filter((l) => l.startsWith('fluent_native_records_sent_total')).length, 1)
  t.throws(() => client.metrics({ 'bad-name': 'x' }), { code: 'ERR_FLUENT_CONFIG' } as never)
  await client.close()
  await r.close()
})

test('collectMetrics registers with a prom-client registry, per client labels, and unregisters', async (t) => {
  const r = await FluentReceiver.listen()
  t.teardown(() => r.close())
  const a = new FluentClient({ port: r.port, requireAck: true })
  const b = new FluentClient({ port: r.port, requireAck: true })
  const registry = new Registry()
  const offA = collectMetrics(a, registry, { labels: { client: 'a' } })
  const offB = collectMetrics(b, registry, { labels: { client: 'b' } })
  const c = new FluentClient({ port: r.port })
  t.teardown(() => c.close())
  t.throws(() => collectMetrics(c, registry, { labels: { client: 'a' } }), { code: 'ERR_FLUENT_CONFIG' } as never)
  for (let i = 0; i < 30; i++) a.emit('a', { i })
  for (let i = 0; i < 7; i++) b.emit('b', { i })
  await Promise.all([a.flush(), b.flush()])
  const m = parse(await registry.metrics())
  t.is(m.get('fluent_native_records_sent_total{client="a"}'), 30)
  t.is(m.get('fluent_native_records_sent_total{client="b"}'), 7)
  // No default process metrics.
  t.false((await registry.metrics()).includes('process_cpu'))
  offA()
  const after = parse(await registry.metrics())
  t.false(after.has('fluent_native_records_sent_total{client="a"}'))
  t.is(after.get('fluent_native_records_sent_total{client="b"}'), 7)
  offB()
  t.is(registry.getSingleMetric('fluent_native_records_sent_total'), undefined)
  await Promise.all([a.close(), b.close()])
  await r.close()
})

test('diagnostics channels: connect, disconnect, error, drop and breaker, with their shapes', async (t) => {
  const seen: Record<string, unknown[]> = { connect: [], disconnect: [], error: [], drop: [], breaker: [] }
  const subs = Object.keys(seen).map((k) => {
    const fn = (msg: unknown) => seen[k].push(msg)
    subscribe(`fluent-native:client:${k}`, fn)
    return () => unsubscribe(`fluent-native:client:${k}`, fn)
  })
  try {
    const r = await FluentReceiver.listen()
    t.teardown(() => r.close())
    const ok = new FluentClient({ port: r.port, requireAck: true })
    ok.emit('d', { a: 1 })
    await ok.flush()
    await r.close()
    await until(() => seen.disconnect.some((m) => (m as { client: unknown }).client === ok))
    t.deepEqual(
      seen.connect.filter((m) => (m as { client: unknown }).client === ok),
      [{ client: ok, server: `127.0.0.1:${r.port}` }],
    )
    t.true(seen.disconnect.some((m) => (m as { client: unknown }).client === ok))
    await ok.close({ timeoutMs: 100 })

    // A dead server and a small buffer: connect errors, and overflow drops reported in bulk.
    const port = await deadPort()
    const down = new FluentClient({ port, maxBufferBytes: 64 * 1024, maxRecordBytes: 4096, ...quick })
    for (let i = 0; i < 2000; i++) down.emit('d', { msg: 'x'.repeat(100), i })
    const mine = () => seen.drop.filter((m) => (m as { client: unknown }).client === down)
    await until(() => mine().length > 0)
    const codes = (seen.error as Array<{ client: unknown; error: FluentError }>).filter((e) => e.client === down).map((e) => e.error.code)
    t.true(codes.includes('ERR_FLUENT_CONNECT'))
    const drop = mine()[0] as { client: unknown; code: string; records: number; tag?: string }
    t.is(drop.client, down)
    t.is(drop.code, 'ERR_FLUENT_QUEUE_FULL')
    t.true(drop.records > 0)
    t.is(down.stats().unhandledErrors > 0, true, 'no error listener: still published, still counted')
    await down.close({ timeoutMs: 50 })

    // One failure opens this breaker.
    const tripped = new FluentClient({ port, breaker: { failureThreshold: 1, cooldownMs: 60_000 }, ...quick })
    tripped.on('error', () => {})
    tripped.emit('d', { a: 1 })
    const mineB = () => seen.breaker.filter((m) => (m as { client: unknown }).client === tripped)
    await until(() => mineB().length > 0)
    t.deepEqual(mineB()[0], { client: tripped, server: `127.0.0.1:${port}`, state: 'open' })
    await tripped.close({ timeoutMs: 50 })
  } finally {
    for (const off of subs) off()
  }
})

test("collectMetrics with no registry uses prom-client's global register", async (t) => {
  const { register } = await import('prom-client')
  const client = new FluentClient({ port: await deadPort(), exitFlushTimeoutMs: 0 })
  client.on('error', () => {})
  const off = collectMetrics(client, undefined, { labels: { client: 'global-default' } })
  t.true((await register.metrics()).includes('fluent_native_records_emitted_total{client="global-default"} 0'))
  off()
  t.false((await register.metrics()).includes('global-default'))
  await client.close({ timeoutMs: 0 })
})

test('metrics per server: connection and breaker state of every server (half_open style), the version, every stats() field', async (t) => {
  const r = await FluentReceiver.listen()
  t.teardown(() => r.close())
  const dead = await deadPort()
  const client = new FluentClient({
    ...quick,
    servers: [
      { host: '127.0.0.1', port: r.port },
      { host: '127.0.0.1', port: dead },
    ],
    breaker: { failureThreshold: 1, cooldownMs: 60_000 },
  })
  t.teardown(() => client.close({ timeoutMs: 0 }))
  client.on('error', () => {})
  for (let i = 0; i < 10; i++) client.emit('m', { i })
  t.true(await until(() => client.stats().servers[1].breaker === 'open' && client.stats().servers[0].connected, 20_000))
  const text = client.metrics()
  const m = parse(text)
  const up = `server="127.0.0.1:${r.port}"`
  const down = `server="127.0.0.1:${dead}"`
  t.is(m.get(`fluent_native_connected{${up}}`), 1)
  t.is(m.get(`fluent_native_connected{${down}}`), 0)
  t.is(m.get(`fluent_native_breaker_state{${up},state="closed"}`), 1)
  t.is(m.get(`fluent_native_breaker_state{${down},state="open"}`), 1)
  t.is(m.get(`fluent_native_breaker_state{${down},state="half_open"}`), 0)
  t.is(m.get(`fluent_native_server_healthy{${down}}`), 0)
  t.false(text.includes('halfOpen'))
  const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version
  t.is(m.get(`fluent_native_info{version="${version}"}`), 1)
  // Every field of stats() is exported by some metric (a new field needs its row in src/metrics.ts).
  t.deepEqual(
    Object.keys(client.stats()).filter((k) => !EXPORTED_STATS.includes(k)),
    [],
  )
})
