// The runtime conformance script (issue 29): what fluent-native promises under Node, Bun and Deno,
// checked against a real Forward server on loopback. Plain JS, so every runtime runs it as it is:
//
//   node scripts/runtimes/conformance.mjs
//   bun scripts/runtimes/conformance.mjs
//   deno run -A scripts/runtimes/conformance.mjs
//
// One line per check, `pass` / `FAIL`, then a summary line; exits 1 if any check failed. What does
// not work on a runtime is listed in DIFFERENCES below (and in docs/design.md, "Runtimes"): that check
// must fail there in that exact way, so the script notices when it starts working or fails otherwise.
// The plumbing (the peer server, comparisons, children, the runner) is in harness.mjs.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { context, trace, TraceFlags } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { encode } from '@msgpack/msgpack'
import { channels, EventTime, FluentClient } from 'fluent-native'
import { destination } from 'fluent-native/pino'
import { FluentReceiver } from 'fluent-native/receiver'
import { FluentTransport } from 'fluent-native/winston'
import pino from 'pino'
import winston from 'winston'
import { child, deadPort, expect, quick, records, run, same, server, until } from './harness.mjs'

const here = new URL('.', import.meta.url)

/**
 * The documented differences: check name -> what it fails with on that runtime (a RegExp matched
 * against the failure's message). A listed check that passes is a failure too: the list (and the
 * README) must then be updated.
 */
const DIFFERENCES = {
  node: {},
  bun: {},
  deno: {},
}

const checks = []
const check = (name, fn) => checks.push({ name, fn })

check('emit', async () => {
  const s = await server()
  const log = new FluentClient({ port: s.port, ...quick })
  const want = records(3, 'emit')
  for (const r of want) expect(log.emit('rt.emit', r, new EventTime(1_700_000_000, r.i)) === true, 'emit returned false')
  await s.got(3, 'emit')
  same(s.entries.map((e) => [e.tag, e.record]), want.map((r) => ['rt.emit', r]), 'records')
  same(s.entries.map((e) => [e.time.epoch, e.time.nano]), want.map((r) => [1_700_000_000, r.i]), 'event times')
  await log.close()
  await s.close()
})

check('emitMany', async () => {
  const s = await server()
  const log = new FluentClient({ port: s.port, ...quick })
  const want = records(50, 'many')
  const res = log.emitMany('rt.many', want)
  same([res.accepted, res.dropped, res.errors.length], [50, 0, 0], 'emitMany result')
  await s.got(50, 'emitMany')
  same(s.entries.map((e) => e.record), want, 'records')
  await log.close()
  await s.close()
})

check('emitRaw', async () => {
  const s = await server()
  const log = new FluentClient({ port: s.port, ...quick })
  const want = { raw: 'bytes', n: 7, bin: new Uint8Array([1, 2, 3]) }
  expect(log.emitRaw('rt.raw', encode(want)) === true, 'emitRaw returned false')
  let bad
  try {
    log.emitRaw('rt.raw', encode([1, 2]))
  } catch (e) {
    bad = e
  }
  same(bad?.code, 'ERR_FLUENT_ENCODE', 'emitRaw of a msgpack array (not a map) throws')
  await s.got(1, 'emitRaw')
  same(s.entries[0].record, want, 'record')
  await log.close()
  await s.close()
})

check('flush (with acks)', async () => {
  const s = await server()
  const log = new FluentClient({ port: s.port, ...quick, flushIntervalMs: 60_000, requireAck: true })
  for (let i = 0; i < 20; i++) log.emit('rt.flush', { i })
  await log.flush({ timeoutMs: 20_000 })
  // Acked means the server has them: no waiting here.
  same(s.entries.length, 20, 'records arrived when flush() resolved')
  same(s.entries.map((e) => e.record.i), [...Array(20).keys()], 'records in order')
  same(log.stats().sent, 20, 'stats().sent')
  await log.close()
  await s.close()
})

check('close', async () => {
  const s = await server()
  const log = new FluentClient({ port: s.port, ...quick, flushIntervalMs: 60_000 })
  for (let i = 0; i < 100; i++) log.emit('rt.close', { i })
  const report = await log.close({ timeoutMs: 20_000 })
  same([report.sent, report.dropped, report.pending, report.rejected], [100, 0, 0, 0], 'close report [sent, dropped, pending, rejected]')
  same(log.emit('rt.close', { late: true }), false, 'emit after close')
  await s.got(100, 'close')
  await s.close()
})

check('exit drain (child exits with records pending, no close)', async () => {
  const s = await server()
  for (const how of ['end', 'exit']) {
    s.entries.length = 0
    const r = await child('exit-child.mjs', [String(s.port), how, '500'])
    same([r.code, r.signal], [0, null], `child (${how}) exit: ${r.out.trim()}`)
    expect(r.out.includes('emitted 500'), `child (${how}) did not emit: ${r.out.trim()}`)
    await s.got(500, `exit drain (${how})`)
    same(s.entries.map((e) => e.record.i), [...Array(500).keys()], `records (${how})`)
  }
  await s.close()
})

check('exit deadline: what is left is reported', async () => {
  const port = await deadPort()
  const heard = await child('exit-child.mjs', [String(port), 'dead', '5', 'listen'])
  same([heard.code, heard.out.trim().split('\n').at(-1)], [0, 'undelivered 5'], "the 'error' listener's ERR_FLUENT_UNDELIVERED inside 'exit'")
  const unheard = await child('exit-child.mjs', [String(port), 'dead', '5'])
  same(unheard.code, 0, 'exit code without a listener')
  expect(/\[ERR_FLUENT_UNDELIVERED\] Warning: fluent-native: 5 record\(s\) from 1 client\(s\) were not delivered/.test(unheard.out), `no warning: ${unheard.out}`)
})

check('Worker (node:worker_threads)', async () => {
  const s = await server()
  const w = new Worker(new URL('worker.mjs', here), { workerData: { port: s.port, n: 200 } })
  const exited = once(w, 'exit')
  const [report] = await Promise.race([
    once(w, 'message'),
    once(w, 'error').then(([e]) => {
      throw e
    }),
  ])
  same([report.sent, report.pending], [200, 0], 'the Worker client close report [sent, pending]')
  await s.got(200, 'Worker')
  same(s.entries.map((e) => [e.tag, e.record.i]), [...Array(200).keys()].map((i) => ['rt.worker', i]), 'records')
  same((await exited)[0], 0, 'the Worker exit code')
  await s.close()
})

check('Worker ends without close (its exit drain)', async () => {
  const s = await server()
  const w = new Worker(new URL('worker.mjs', here), { workerData: { port: s.port, n: 200, close: false } })
  const [code] = await once(w, 'exit')
  same(code, 0, 'the Worker exit code')
  await s.got(200, 'Worker exit drain')
  same(s.entries.map((e) => e.record.i), [...Array(200).keys()], 'records')
  await s.close()
})

check('Worker terminate() with records pending (its exit drain)', async () => {
  const s = await server()
  const w = new Worker(new URL('worker.mjs', here), { workerData: { port: s.port, n: 200, close: false, stay: true } })
  const exited = once(w, 'exit')
  await once(w, 'message')
  await w.terminate()
  await exited
  await s.got(200, 'Worker terminate() drain')
  same(s.entries.map((e) => e.record.i), [...Array(200).keys()], 'records')
  await s.close()
})

check('pino transport (pino.transport, in its worker thread)', async () => {
  const s = await server()
  const transport = pino.transport({ target: 'fluent-native/pino', options: { port: s.port, ...quick, tag: 'rt.transport' } })
  const logger = pino({ base: undefined }, transport)
  for (let i = 0; i < 10; i++) logger.info({ i }, 'via the transport')
  await s.got(10, 'pino transport')
  same(s.entries.map((e) => [e.tag, e.record.level, e.record.msg, e.record.i]), [...Array(10).keys()].map((i) => ['rt.transport', 'info', 'via the transport', i]), 'records')
  const closed = once(transport, 'close')
  transport.end()
  await closed
  await s.close()
})

check('pino destination()', async () => {
  const s = await server()
  const dest = destination({ port: s.port, ...quick, tag: 'rt.pino' })
  const logger = pino({ base: undefined }, dest)
  logger.info({ user: 42, nested: { a: [1, 'two'] } }, 'hello')
  logger.warn('careful')
  await new Promise((resolve, reject) => logger.flush((e) => (e ? reject(e) : resolve())))
  await s.got(2, 'pino')
  const [a, b] = s.entries
  same([a.tag, a.record.level, a.record.msg, a.record.user, a.record.nested], ['rt.pino', 'info', 'hello', 42, { a: [1, 'two'] }], 'info record')
  same([b.record.level, b.record.msg], ['warn', 'careful'], 'warn record')
  const closed = once(dest, 'close')
  dest.end()
  await closed
  await s.close()
})

check('winston transport (fluent-native/winston)', async () => {
  const s = await server()
  const transport = new FluentTransport({ port: s.port, ...quick, tag: 'rt.winston' })
  const logger = winston.createLogger({ format: winston.format.combine(winston.format.splat(), winston.format.json()), transports: [transport] })
  logger.info('hello %s', 'world', { user: 'ann' })
  logger.error('bad', { code: 7 })
  await s.got(2, 'winston')
  same(s.entries.map((e) => [e.tag, e.record]), [['rt.winston', { level: 'info', message: 'hello world', user: 'ann' }], ['rt.winston', { code: 7, level: 'error', message: 'bad' }]], 'records')
  const finished = once(logger, 'finish')
  logger.end()
  await finished
  await s.close()
})

check("'delivered' events and diagnostics_channel", async () => {
  const s = await server()
  const log = new FluentClient({ port: s.port, ...quick, requireAck: true })
  const delivered = []
  log.on('delivered', (b) => delivered.push(...b.records.map((r) => r.record.i)))
  const connects = []
  const onConnect = (m) => m.client === log && connects.push(m.server)
  channels.connect.subscribe(onConnect)
  try {
    for (let i = 0; i < 20; i++) log.emit('rt.delivered', { i })
    await log.flush({ timeoutMs: 20_000 })
    expect(await until(() => delivered.length >= 20), `${delivered.length} of 20 records reported delivered`)
    same(delivered, [...Array(20).keys()], "records in 'delivered' events")
    same(connects, [`127.0.0.1:${s.port}`], 'connect messages on fluent-native:client:connect')
  } finally {
    channels.connect.unsubscribe(onConnect)
  }
  await log.close()
  await s.close()
})

check('FluentReceiver (fluent-native/receiver)', async () => {
  const r = await FluentReceiver.listen({ port: 0, host: '127.0.0.1' })
  const got = []
  r.on('event', (ev) => got.push(ev))
  const log = new FluentClient({ port: r.port, ...quick, requireAck: true })
  const want = records(100, 'recv', true)
  for (const rec of want) log.emit('rt.recv', rec, new EventTime(1_700_000_001, rec.i))
  await log.flush({ timeoutMs: 20_000 })
  const st = await r.waitFor(100, 20_000)
  same([st.events, st.acks > 0], [100, true], 'receiver stats [events, acked]')
  expect(await until(() => got.length >= 100), `${got.length} of 100 'event's`)
  same(got.map((e) => [e.tag, e.time.epoch, e.time.nano, e.record]), want.map((rec) => ['rt.recv', 1_700_000_001, rec.i, rec]), 'events')
  await log.close()
  await r.close()
})

check('logger traceContext (OpenTelemetry, AsyncLocalStorage context manager)', async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  try {
    const s = await server()
    const log = new FluentClient({ port: s.port, ...quick })
    const logger = log.logger({ tag: 'rt.trace', traceContext: true })
    const sc = { traceId: '5b8aa5a2d2c872e8321cf37308d69df2', spanId: '051581bf3cb55c13', traceFlags: TraceFlags.SAMPLED }
    const ids = { trace_id: sc.traceId, span_id: sc.spanId, trace_flags: '01' }
    await context.with(trace.setSpan(context.active(), trace.wrapSpanContext(sc)), async () => {
      logger.info('in span')
      // The context must survive an await and a timer (AsyncLocalStorage's promise and timer hooks).
      await new Promise((r) => setTimeout(r, 5))
      logger.child({ c: 1 }).info('after a timer')
      await Promise.resolve()
      logger.info('after an await')
    })
    logger.info('no span')
    await s.got(4, 'traceContext')
    same(
      s.entries.map((e) => e.record),
      [{ level: 'info', msg: 'in span', ...ids }, { level: 'info', msg: 'after a timer', c: 1, ...ids }, { level: 'info', msg: 'after an await', ...ids }, { level: 'info', msg: 'no span' }],
      'records',
    )
    await log.close()
    await s.close()
  } finally {
    context.disable()
  }
})

check('failure handler', async () => {
  const port = await deadPort()
  const batches = []
  const log = new FluentClient({
    port,
    ...quick,
    errorHandler: (_err, batch) => {
      batches.push({ reason: batch.reason, tag: batch.tag, records: batch.records })
      return true
    },
  })
  log.on('error', () => {})
  const want = records(30, 'handler', true)
  for (const rec of want) log.emit('rt.handler', rec, new EventTime(1_700_000_002, rec.i))
  const report = await log.close({ timeoutMs: 300 })
  same([report.sent, report.handled], [0, 30], 'close report [sent, handled]')
  const all = batches.flatMap((b) => b.records.map(({ time, record }) => [b.tag, time.epoch, time.nano, record]))
  same(all, want.map((rec) => ['rt.handler', 1_700_000_002, rec.i, rec]), 'records given to the handler')
  expect(batches.every((b) => b.reason === 'close' || b.reason === 'unavailable'), `reasons ${batches.map((b) => b.reason)}`)
})

const failed = await run(checks, DIFFERENCES)
// Not process.exitCode: a runtime whose event loop something keeps alive must still end.
process.exit(failed > 0 ? 1 : 0)
