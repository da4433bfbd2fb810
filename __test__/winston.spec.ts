// winston: fluent-native/winston against a real Forward server. log() calls back once the record is
// in the buffer, so an outage never stalls winston's other transports (fluent-logger-node#115).
import test from 'ava'
import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import winston from 'winston'
import { FluentError } from '../src/errors.js'
import { FluentTransport } from '../src/winston.js'
import { runNode } from './child.ts'
import { Receiver, quick, sleep, until } from './helpers.ts'

const fast = { ...quick, breaker: { cooldownMs: 50, maxCooldownMs: 200 } }

/** A winston Stream transport's target that counts the lines it gets. */
function lineCounter(): { stream: Writable; lines: () => number } {
  let lines = 0
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const b of chunk) if (b === 10) lines++
      done()
    },
  })
  return { stream, lines: () => lines }
}

test('fluentd down for 10 s: the other transport gets all 20,000 lines at once, ours delivers them all after', async (t) => {
  const server = await Receiver.start()
  const ours = new FluentTransport({ tag: 'outage', port: server.port, ...fast })
  const warnings: unknown[] = []
  ours.on('warn', (w) => warnings.push(w))
  const other = lineCounter()
  const logger = winston.createLogger({
    format: winston.format.json(),
    transports: [ours, new winston.transports.Stream({ stream: other.stream })],
  })
  const down = Date.now()
  const back = server.restartAfter(10_000)
  const N = 20_000
  for (let i = 0; i < N; i++) logger.info('during the outage', { i })
  // Bounded: the other transport must have every line long before the server returns.
  while (other.lines() < N && Date.now() - down < 9000) await sleep(10)
  const otherTook = Date.now() - down
  t.is(other.lines(), N)
  t.true(otherTook < 9000, `the other transport took ${otherTook} ms`)
  t.is(server.entries.length, 0, 'the server was still down')
  await back
  t.true(await server.waitFor(N, 30_000))
  t.is(new Set(server.entries.map((e) => e.record.i)).size, N)
  t.true(server.entries.every((e) => e.tag === 'outage' && e.record.level === 'info' && e.record.message === 'during the outage'))
  t.is(ours.client.stats().dropped, 0)
  t.true(warnings.length > 0, "the outage reached winston as the transport's 'warn'")
  const finished = new Promise((resolve) => logger.on('finish', resolve))
  logger.end()
  await finished
  await ours.client.close()
  await server.close()
})

test('level, message, splat and errors({ stack: true }) map to a clean record (exactly these fields: no Symbol keys)', async (t) => {
  const server = await Receiver.start()
  const ours = new FluentTransport({ tag: 'fields', port: server.port, ...fast, requireAck: true })
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.errors({ stack: true }), winston.format.splat(), winston.format.json()),
    transports: [ours],
  })
  logger.info('hello %s, %d times', 'world', 3, { user: 'ann' })
  logger.error(new Error('boom'))
  logger.warn('with meta', { nested: { a: [1, 2] }, when: new Date(0) })
  logger.debug('colorized level stays plain')
  const finished = new Promise((resolve) => ours.on('finish', resolve))
  logger.end()
  await finished
  // logger.end() waited for our 'finish', which follows delivery (requireAck): all are there.
  const records = server.entries.map((e) => e.record)
  t.is(records.length, 4)
  t.deepEqual(records[0], { level: 'info', message: 'hello world, 3 times', user: 'ann' })
  t.is(records[1].level, 'error')
  t.is(records[1].message, 'boom')
  t.true(String(records[1].stack).startsWith('Error: boom\n'))
  t.deepEqual(records[2], { level: 'warn', message: 'with meta', nested: { a: [1, 2] }, when: '1970-01-01T00:00:00.000Z' })
  t.is(records[3].level, 'debug')
  await ours.client.close()
  await server.close()
})

test('logv takes a batch in one emitMany and applies the format; a bad record is a warning, not a throw', async (t) => {
  const server = await Receiver.start()
  const ours = new FluentTransport({ tag: 'batch', port: server.port, ...fast, requireAck: true, format: winston.format.timestamp() })
  const warnings: unknown[] = []
  ours.on('warn', (w) => warnings.push(w))
  const infos = [1, 2, 3].map((i) => ({ level: 'info', message: `m${i}`, i, [Symbol.for('level')]: 'info' }))
  const bad = { level: 'info', message: 'x', big: 'y'.repeat(5 * 1024 * 1024) }
  await new Promise<void>((resolve) => ours.logv([...infos, bad].map((chunk) => ({ chunk })), resolve))
  await ours.client.flush()
  t.deepEqual(
    server.entries.map((e) => e.record.i),
    [1, 2, 3],
  )
  t.true(server.entries.every((e) => typeof e.record.timestamp === 'string'))
  t.is(warnings.length, 1)
  t.is((warnings[0] as { code: string }).code, 'ERR_FLUENT_RECORD_TOO_LARGE')
  await ours.client.close()
  await server.close()
})

test('logger.close() drains and closes the client', async (t) => {
  const server = await Receiver.start()
  const ours = new FluentTransport({ tag: 'close', port: server.port, ...fast })
  const logger = winston.createLogger({ transports: [ours] })
  for (let i = 0; i < 100; i++) logger.info('bye', { i })
  const closed = new Promise((resolve) => ours.once('closed', resolve))
  await sleep(20)
  logger.close()
  await closed
  t.true(await server.waitFor(100))
  t.false(ours.client.emit('close', { late: true }))
  await server.close()
})

/** A loopback port with nothing listening: a server's, closed. */
async function downPort(): Promise<number> {
  const server = await Receiver.start()
  await server.close()
  return server.port
}

const winstonPath = createRequire(import.meta.url).resolve('winston')
const transportPath = fileURLToPath(new URL('../src/winston.js', import.meta.url))
/** close()'s default deadline, which logger.end() drains within. */
const CLOSE_MS = 5000
/** Room for a loaded machine on top of a deadline (behaviour, not speed). */
const SLACK_MS = 5000

test("logger.end() with the server down, nobody listening: ends within close's deadline, exit 0, the failure on stderr", async (t) => {
  const port = await downPort()
  const started = Date.now()
  const result = await runNode(
    `
    const winston = require(${JSON.stringify(winstonPath)})
    const { FluentTransport } = require(${JSON.stringify(transportPath)})
    const t0 = Date.now()
    const logger = winston.createLogger({ transports: [new FluentTransport({ port: ${port}, tag: 'down' })] })
    for (let i = 0; i < 10; i++) logger.info('lost', { i })
    logger.on('finish', () => process.stderr.write('finished after ' + (Date.now() - t0) + ' ms\\n'))
    logger.end()
  `,
    60_000,
  )
  const took = Date.now() - started
  t.is(result.signal, null, result.stderr)
  t.is(result.status, 0, result.stderr)
  t.notRegex(result.stderr, /Unhandled 'error'/)
  const finished = Number(/finished after (\d+) ms/.exec(result.stderr)?.[1] ?? NaN)
  t.true(finished <= CLOSE_MS + SLACK_MS, `end() took ${finished} ms\n${result.stderr}`)
  t.true(took <= CLOSE_MS + 2 * SLACK_MS, `the process took ${took} ms to exit`)
  // Visible without a listener: what was lost, and why (the server could not be reached).
  const lost = result.stderr.split('\n').filter((l) => l.includes('fluent-native/winston') && l.includes('ERR_FLUENT_UNDELIVERED'))
  t.is(lost.length, 1, result.stderr)
  t.regex(lost[0], /\b10 record/)
  t.true(result.stderr.split('\n').some((l) => l.includes('fluent-native/winston') && l.includes('ERR_FLUENT_CONNECT')), result.stderr)
})

test("logger.end() with the server down: the logger's 'warn' gets ERR_FLUENT_UNDELIVERED, never an 'error'", async (t) => {
  const port = await downPort()
  const ours = new FluentTransport({ port, tag: 'down', connectTimeoutMs: 500 })
  const logger = winston.createLogger({ transports: [ours] })
  const warnings: Array<{ code?: string; records?: number }> = []
  const errors: unknown[] = []
  logger.on('warn', (w) => warnings.push(w))
  logger.on('error', (e) => errors.push(e))
  for (let i = 0; i < 10; i++) logger.info('lost', { i })
  const started = Date.now()
  const finished = new Promise((resolve) => logger.on('finish', resolve))
  logger.end()
  await finished
  const took = Date.now() - started
  t.true(took <= CLOSE_MS + SLACK_MS, `end() took ${took} ms`)
  // The client reports the undelivered records as its close settles; bounded wait for the event.
  await until(() => warnings.some((w) => w.code === 'ERR_FLUENT_UNDELIVERED'), 5000)
  const undelivered = warnings.filter((w) => w.code === 'ERR_FLUENT_UNDELIVERED')
  t.is(undelivered.reduce((n, w) => n + (w.records ?? 0), 0), 10)
  t.deepEqual(errors, [])
  const report = await ours.client.close()
  t.is(report.pending + report.dropped, 10)
})

test('a mistyped transport option suggests the transport option it resembles (tga -> tag)', (t) => {
  const err = t.throws(() => new FluentTransport({ tga: 'x' } as never), { instanceOf: FluentError })
  t.is(err.code, 'ERR_FLUENT_CONFIG')
  t.regex(err.message, /"tga" \(did you mean "tag"\?\)/)
})
