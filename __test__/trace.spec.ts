// Trace context (issue 29): the active OpenTelemetry span's ids in the records of the leveled logger,
// with the real @opentelemetry/api and its AsyncLocalStorage context manager, checked at a real
// Forward server; and the pino and winston routes through OpenTelemetry's own instrumentations.
import test from 'ava'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { context, trace, TraceFlags } from '@opentelemetry/api'
import type { SpanContext } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino'
import { WinstonInstrumentation } from '@opentelemetry/instrumentation-winston'
import { Unpackr } from 'msgpackr'
import { FluentClient, FluentError } from '../index.js'
import { encodeEntries, encodeSpliced, encodeString, NO_ENTRIES, scratch, spliced, toWords } from '../src/encoder.js'
import { Receiver, quick } from './helpers.ts'

const require = createRequire(import.meta.url)
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

const SAMPLED: SpanContext = { traceId: '5b8aa5a2d2c872e8321cf37308d69df2', spanId: '051581bf3cb55c13', traceFlags: TraceFlags.SAMPLED }
const OTHER: SpanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE }

/** Runs `fn` with a span of `sc` active (a made-up span context: no SDK needed to make it valid). */
function inSpan<T>(sc: SpanContext, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), trace.wrapSpanContext(sc)), fn)
}

const ids = (sc: SpanContext) => ({ trace_id: sc.traceId, span_id: sc.spanId, trace_flags: sc.traceFlags === TraceFlags.SAMPLED ? '01' : '00' })

async function received(n: number, run: (client: FluentClient) => void | Promise<void>): Promise<Record<string, unknown>[]> {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...quick })
  client.on('error', () => {})
  await run(client)
  await client.close()
  await server.waitFor(n, 10_000)
  await server.close()
  return server.entries.map((e) => e.record)
}

test('traceContext: records logged while a span is active carry its ids, others none; children inherit; async continuations keep it', async (t) => {
  const records = await received(7, async (client) => {
    const log = client.logger({ tag: 'app', traceContext: true, fields: { service: 'api' } })
    log.info('before')
    inSpan(SAMPLED, () => {
      log.info('in span', { n: 1 })
      log.child({ requestId: 'r1' }).warn('child in span')
    })
    await inSpan(OTHER, async () => {
      await sleep(5)
      log.error(new Error('after an await'))
    })
    log.info('after')
    // A span whose context is not valid (all-zero ids) adds nothing, as the instrumentations do.
    inSpan({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: TraceFlags.SAMPLED }, () => log.info('invalid span'))
    // Without the option: nothing, span or not.
    inSpan(SAMPLED, () => client.logger({ tag: 'plain' }).info('no option'))
  })
  t.deepEqual(records[0], { level: 'info', msg: 'before', service: 'api' })
  t.deepEqual(records[1], { level: 'info', msg: 'in span', service: 'api', ...ids(SAMPLED), n: 1 })
  t.deepEqual(records[2], { level: 'warn', msg: 'child in span', service: 'api', requestId: 'r1', ...ids(SAMPLED) })
  const { err, ...rest } = records[3] as { err: Record<string, unknown> }
  t.deepEqual(rest, { level: 'error', msg: 'after an await', service: 'api', ...ids(OTHER) })
  t.is(err.message, 'after an await')
  t.deepEqual(records[4], { level: 'info', msg: 'after', service: 'api' })
  t.deepEqual(records[5], { level: 'info', msg: 'invalid span', service: 'api' })
  t.deepEqual(records[6], { level: 'info', msg: 'no option' })
})

test('traceContext: key names are configurable; a call field replaces a trace field, which replaces a bound one', async (t) => {
  const records = await received(3, (client) => {
    const log = client.logger({ tag: 'app', traceContext: { traceIdKey: 'traceId', spanIdKey: 'spanId', traceFlagsKey: 'flags' } })
    const bound = client.logger({ tag: 'app', traceContext: true, fields: { trace_id: 'bound', keep: 1 } })
    inSpan(SAMPLED, () => {
      log.info('renamed')
      bound.info('bound replaced')
      bound.info('call wins', { trace_id: 'from-the-call' })
    })
  })
  t.deepEqual(records[0], { level: 'info', msg: 'renamed', traceId: SAMPLED.traceId, spanId: SAMPLED.spanId, flags: '01' })
  t.deepEqual(records[1], { level: 'info', msg: 'bound replaced', keep: 1, ...ids(SAMPLED) })
  t.deepEqual(records[2], { level: 'info', msg: 'call wins', keep: 1, ...ids(SAMPLED), trace_id: 'from-the-call' })
})

test('traceContext: one logger shared by requests whose spans interleave writes each record with its own span', async (t) => {
  const records = await received(6, async (client) => {
    const log = client.logger({ tag: 'app', traceContext: true })
    const request = (sc: SpanContext, name: string) =>
      inSpan(sc, async () => {
        for (let step = 0; step < 3; step++) {
          log.info(name, { step })
          await sleep(2)
        }
      })
    await Promise.all([request(SAMPLED, 'a'), request(OTHER, 'b')])
  })
  t.is(records.length, 6)
  for (const r of records) t.deepEqual(r, { level: 'info', msg: r.msg, step: r.step, ...ids(r.msg === 'a' ? SAMPLED : OTHER) })
  t.deepEqual(records.map((r) => `${r.msg}${r.step}`).sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2'])
})

test('no key appears twice in the bytes: a trace id replaces a bound field, a call field replaces a trace id', (t) => {
  const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false })
  const names = ['trace_id', 'span_id', 'trace_flags'] as const
  const traceKeys = { names, words: names.map((k) => toWords(encodeString(k))) as never }
  const trio = { trace_id: SAMPLED.traceId, span_id: SAMPLED.spanId, trace_flags: '01' }
  const cases: Array<{ bound: object; fields: object | undefined; want: Record<string, unknown> }> = [
    { bound: {}, fields: undefined, want: { level: 'info', ...trio } },
    { bound: { trace_id: 'bound', a: 1 }, fields: undefined, want: { level: 'info', a: 1, ...trio } },
    { bound: { trace_id: 'bound', a: 1 }, fields: { trace_id: 'call', b: 2 }, want: { level: 'info', a: 1, span_id: trio.span_id, trace_flags: '01', trace_id: 'call', b: 2 } },
    { bound: { span_id: 'bound' }, fields: { trace_flags: 'call' }, want: { level: 'info', trace_id: trio.trace_id, span_id: trio.span_id, trace_flags: 'call' } },
  ]
  for (const c of cases) {
    Object.assign(spliced, {
      levelKey: 'level',
      levelEntry: toWords(Buffer.concat([encodeString('level'), encodeString('info')])),
      messageKey: 'msg',
      levelHead: toWords(Buffer.concat([encodeString('level'), encodeString('info'), encodeString('msg')])),
      message: undefined,
      bound: encodeEntries(c.bound, NO_ENTRIES, 1 << 20),
      traceId: trio.trace_id,
      spanId: trio.span_id,
      traceFlags: trio.trace_flags,
      traceKeys,
      fields: c.fields,
    })
    const end = encodeSpliced(0, 1 << 20)
    const bytes = Buffer.from(scratch().subarray(0, end))
    const [decoded] = unpackr.unpackMultiple(bytes) as Array<Record<string, unknown>>
    t.deepEqual(Object.entries(decoded), Object.entries(c.want))
    t.is(bytes[0] & 0x0f, Object.keys(c.want).length, 'map header counts each key once')
  }
  t.is(spliced.traceId, undefined, 'the shared record keeps no trace ids for the next record')
})

test('traceContext: bad values are ERR_FLUENT_CONFIG from logger()', async (t) => {
  const client = new FluentClient({ port: 1, ...quick })
  client.on('error', () => {})
  const bad: unknown[] = [
    'yes',
    1,
    [],
    { traceIdKey: '' },
    { spanIdKey: 5 },
    { traceIdKey: 'id', spanIdKey: 'id' },
    { traceIdKey: 'msg' },
    { traceFlagsKey: 'level' },
    { traceId: 'trace_id' },
  ]
  for (const traceContext of bad) {
    const err = t.throws(() => client.logger({ tag: 'app', traceContext } as never), { instanceOf: FluentError }, JSON.stringify(traceContext))
    t.is(err?.code, 'ERR_FLUENT_CONFIG', JSON.stringify(traceContext))
  }
  t.notThrows(() => client.logger({ tag: 'app', traceContext: false }))
  await client.close({ timeoutMs: 0 })
})

/** Runs a CommonJS program in a child Node (the package's CommonJS entry, as an application loads it). */
function node(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 20_000, cwd: new URL('..', import.meta.url).pathname })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

test('@opentelemetry/api is loaded only for a logger that asks for trace context', (t) => {
  const r = node(`
    const { FluentClient } = require('./index.js')
    const client = new FluentClient({ port: 1 })
    client.on('error', () => {})
    client.logger({ tag: 'a' }).info('x')
    const loaded = () => Object.keys(require.cache).some((f) => f.includes('@opentelemetry'))
    console.log(loaded())
    client.logger({ tag: 'b', traceContext: true })
    console.log(loaded())
    client.close({ timeoutMs: 0 })
  `)
  t.is(r.status, 0, r.stderr)
  t.deepEqual(r.stdout.trim().split('\n'), ['false', 'true'])
})

test('traceContext without @opentelemetry/api installed: ERR_FLUENT_CONFIG that says what to install', (t) => {
  // Node's own "not found" for that one name, as a machine without the package gives it.
  const r = node(`
    const Module = require('node:module')
    const resolve = Module._resolveFilename
    Module._resolveFilename = function (request, ...rest) {
      if (request === '@opentelemetry/api') {
        const e = new Error("Cannot find module '@opentelemetry/api'")
        e.code = 'MODULE_NOT_FOUND'
        throw e
      }
      return resolve.call(this, request, ...rest)
    }
    const { FluentClient } = require('./index.js')
    const client = new FluentClient({ port: 1 })
    client.on('error', () => {})
    try {
      client.logger({ tag: 'a', traceContext: true })
      console.log('no error')
    } catch (e) {
      console.log(e.code, e.message)
    }
    client.logger({ tag: 'a' }).info('still works')
    client.close({ timeoutMs: 0 })
  `)
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), 'ERR_FLUENT_CONFIG logger() traceContext needs @opentelemetry/api (npm install @opentelemetry/api), which is not installed')
})

test('pino route: @opentelemetry/instrumentation-pino puts the ids in the lines, and destination() delivers them', async (t) => {
  const instrumentation = new PinoInstrumentation({ disableLogSending: true })
  instrumentation.enable()
  try {
    // Required after enable(): the instrumentation patches pino as it is loaded.
    const pino = require('pino') as typeof import('pino').default
    const { destination } = require('../src/pino.js') as typeof import('../src/pino.js')
    const server = await Receiver.start()
    const dest = destination({ port: server.port, ...quick, tag: 'pino' })
    const logger = pino({ base: undefined, timestamp: false }, dest)
    inSpan(SAMPLED, () => logger.info('in span'))
    logger.info('no span')
    t.true(await server.waitFor(2, 10_000))
    t.deepEqual(
      server.entries.map((e) => e.record),
      [
        { level: 'info', msg: 'in span', ...ids(SAMPLED) },
        { level: 'info', msg: 'no span' },
      ],
    )
    await dest.client.close()
    await server.close()
  } finally {
    instrumentation.disable()
  }
})

test('winston route: @opentelemetry/instrumentation-winston puts the ids in the info, and FluentTransport delivers them', async (t) => {
  const instrumentation = new WinstonInstrumentation({ disableLogSending: true })
  instrumentation.enable()
  try {
    const winston = require('winston') as typeof import('winston')
    const { FluentTransport } = require('../src/winston.js') as typeof import('../src/winston.js')
    const server = await Receiver.start()
    const transport = new FluentTransport({ port: server.port, ...quick, tag: 'winston' })
    const logger = winston.createLogger({ format: winston.format.json(), transports: [transport] })
    inSpan(OTHER, () => logger.info('in span', { user: 'ann' }))
    logger.info('no span')
    t.true(await server.waitFor(2, 10_000))
    t.deepEqual(
      server.entries.map((e) => e.record),
      [
        { level: 'info', message: 'in span', user: 'ann', ...ids(OTHER) },
        { level: 'info', message: 'no span' },
      ],
    )
    logger.end()
    await transport.client.close()
    await server.close()
  } finally {
    instrumentation.disable()
  }
})
