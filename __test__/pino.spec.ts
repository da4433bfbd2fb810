// pino: `fluent-native/pino` as a pino.transport target (pino's worker) and as an in-thread
// destination, against a real Forward server. The lines are never parsed in JS: Rust splits and
// transcodes them, so these tests check what arrived field by field.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { destination } from '../src/pino.js'
import { Capture } from './capture.ts'
import { Receiver, sleep, until } from './helpers.ts'

// What `target: 'fluent-native/pino'` resolves to from an application (the package's subpath export,
// self-referenced from the package root: __test__ has its own package.json, so pino, resolving from
// this file, could not self-reference the name).
const pinoTarget = createRequire(fileURLToPath(new URL('../package.json', import.meta.url))).resolve('fluent-native/pino')
const pinoPath = createRequire(import.meta.url).resolve('pino')

/** Line `i` is stamped `BASE + i` ms (the loop sets `current`), so each record's time is known exactly. */
const BASE = 1_733_111_222_000
let current = 0
const counterTime = { timestamp: () => `,"time":${BASE + current}` }

/** EventTime as FluentServer decodes it, in ms. */
function ms(time: unknown): number {
  const t = time as { epoch?: number; nano?: number; _epoch?: number; _nano?: number }
  return (t.epoch ?? t._epoch ?? 0) * 1000 + (t.nano ?? t._nano ?? 0) / 1e6
}

function ended(stream: { end(): void; once(e: string, f: () => void): void }): Promise<void> {
  return new Promise((resolve) => {
    stream.once('close', resolve)
    stream.end()
  })
}

test('the subpath export fluent-native/pino is the transport module', (t) => {
  t.is(pinoTarget, fileURLToPath(new URL('../src/pino.js', import.meta.url)))
})

test('100,000 lines through pino.transport arrive exact: fields, level names, time to the ms, tag from a field', async (t) => {
  const server = await Receiver.start()
  const transport = pino.transport({
    target: pinoTarget,
    options: { port: server.port, tag: 'app', tagKey: 'svc', flushIntervalMs: 5, requireAck: true },
  })
  const logger = pino({ level: 'trace', ...counterTime }, transport)
  const services = [logger.child({ svc: 'app.api' }), logger.child({ svc: 'app.worker' }), logger]
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
  const N = 100_000
  for (let i = 0; i < N; i++) {
    current = i
    services[i % 3][levels[i % 6]]({ i, user: { id: i * 7, name: `u${i % 97}` }, ok: i % 2 === 0 }, `line ${i} ✓`)
  }
  await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())))
  // requireAck: flush calls back once the server acknowledged every line, so all are there now.
  t.is(server.entries.length, N)
  const seen = new Set<number>()
  let bad = 0
  for (const e of server.entries) {
    const r = e.record as Record<string, unknown>
    const i = r.i as number
    seen.add(i)
    const ok =
      e.tag === ['app.api', 'app.worker', 'app'][i % 3] &&
      r.level === levels[i % 6] &&
      ms(e.time) === BASE + i &&
      r.time === undefined &&
      r.msg === `line ${i} ✓` &&
      (r.user as { id: number }).id === i * 7 &&
      (r.user as { name: string }).name === `u${i % 97}` &&
      r.ok === (i % 2 === 0) &&
      r.pid === process.pid &&
      typeof r.hostname === 'string' &&
      (i % 3 === 2 ? r.svc === undefined : r.svc === e.tag)
    if (!ok && bad++ < 3) t.log('unexpected', e)
  }
  t.is(bad, 0)
  t.is(seen.size, N)
  await ended(transport)
  await server.close()
})

test('pino.transport: custom levels come from pino itself (PINO_CONFIG), and an invalid line is sent raw', async (t) => {
  const server = await Receiver.start()
  const transport = pino.transport({
    target: pinoTarget,
    options: { port: server.port, tag: 'custom', flushIntervalMs: 5, requireAck: true },
  })
  const logger = pino({ customLevels: { audit: 35 }, messageKey: 'message' }, transport)
  ;(logger as unknown as { audit: (m: string) => void }).audit('who did what')
  logger.info('plain')
  transport.write('this is not json\n')
  await new Promise<void>((resolve) => logger.flush(() => resolve()))
  const records = server.entries.map((e) => e.record)
  t.is(records.length, 3)
  t.like(records[0], { level: 'audit', message: 'who did what' })
  t.like(records[1], { level: 'info', message: 'plain' })
  t.deepEqual(records[2], { message: 'this is not json' })
  t.is(server.entries[2].tag, 'custom')
  await ended(transport)
  await server.close()
})

test('pino.transport({ targets }): one of several targets, levels from pino still named', async (t) => {
  const server = await Receiver.start()
  const transport = pino.transport({
    targets: [
      { target: pinoTarget, options: { port: server.port, tag: 'multi', flushIntervalMs: 5, requireAck: true }, level: 'info' },
      { target: 'pino/file', options: { destination: '/dev/null' }, level: 'info' },
    ],
  })
  const logger = pino({ customLevels: { audit: 35 } }, transport)
  ;(logger as unknown as { audit: (m: string) => void }).audit('a')
  logger.debug('filtered out by the target level')
  logger.error('b')
  // With targets, pino's own multistream is the worker's destination: its flush does not reach ours.
  t.true(await server.waitFor(2, 10_000))
  t.deepEqual(
    server.entries.map((e) => [e.tag, e.record.level, e.record.msg]),
    [
      ['multi', 'audit', 'a'],
      ['multi', 'error', 'b'],
    ],
  )
  await ended(transport)
  await server.close()
})

test('destination(): in-thread, ISO and unix times, keepTime, numbers kept as levels with levelNames: false', async (t) => {
  const server = await Receiver.start()
  const iso = destination({ port: server.port, tag: 'iso', flushIntervalMs: 5, requireAck: true })
  const unix = destination({ port: server.port, tag: 'unix', flushIntervalMs: 5, requireAck: true, keepTime: true, levelNames: false })
  await new Promise((resolve) => iso.once('ready', resolve))
  pino({ timestamp: pino.stdTimeFunctions.isoTime }, iso).info({ a: 1 }, 'iso')
  pino({ timestamp: pino.stdTimeFunctions.unixTime }, unix).warn('unix')
  const before = Math.floor(Date.now() / 1000)
  await Promise.all([iso.flush(), unix.flush()])
  const byTag = new Map(server.entries.map((e) => [e.tag, e]))
  const a = byTag.get('iso')!
  t.like(a.record, { level: 'info', a: 1, msg: 'iso' })
  t.is(a.record.time, undefined)
  t.true(Math.abs(ms(a.time) - Date.now()) < 60_000)
  t.is(ms(a.time) % 1, 0, 'ISO times carry milliseconds')
  const u = byTag.get('unix')!
  t.is(u.record.level, 40)
  t.is(typeof u.record.time, 'number', 'keepTime keeps the field')
  t.is(ms(u.time), (u.record.time as number) * 1000)
  t.true(Math.abs((u.record.time as number) - before) <= 2)
  await Promise.all([ended(iso), ended(unix)])
  await server.close()
})

test('pino(destination(options)): the one-argument form pino documents', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'one', flushIntervalMs: 5, requireAck: true })
  pino(dest).info({ n: 1 }, 'one argument')
  await dest.flush()
  t.like(server.entries[0]?.record, { n: 1, msg: 'one argument', level: 'info' })
  t.is(server.entries[0]?.tag, 'one')
  await ended(dest)
  await server.close()
})

test('chunks cut anywhere (mid-line, mid-UTF-8 character) give the same records', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'cut', flushIntervalMs: 5, requireAck: true })
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, s: `é✓😀 ${'x'.repeat(i * 13)}` }) + '\n')
  const bytes = Buffer.from(lines.join(''))
  // Deterministic cuts of every size from 1 byte up, as Buffers (so UTF-8 sequences split too).
  let at = 0
  let size = 1
  while (at < bytes.length) {
    dest.write(bytes.subarray(at, at + size))
    at += size
    size = (size * 7 + 3) % 61 || 1
  }
  await dest.flush()
  t.deepEqual(
    server.entries.map((e) => e.record),
    lines.map((l) => JSON.parse(l)),
  )
  await ended(dest)
  await server.close()
})

test('an invalid line is counted, reported (ERR_FLUENT_ENCODE) and sent as { msg: line }; the others go on', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'fallback', tagKey: 'svc', flushIntervalMs: 5, requireAck: true })
  const errors: Array<{ code: string; records?: number }> = []
  dest.client.on('error', (e) => errors.push(e))
  dest.write('{"svc":"good","n":1}\n{"svc":"good", broken\n[1,2]\n\n{"svc":"good","n":2}\n')
  await dest.flush()
  // Batches go per tag, so order holds within a tag.
  const of = (tag: string) => server.entries.filter((e) => e.tag === tag).map((e) => e.record)
  t.is(server.entries.length, 4)
  t.deepEqual(of('good'), [
    { svc: 'good', n: 1 },
    { svc: 'good', n: 2 },
  ])
  t.deepEqual(of('fallback'), [{ msg: '{"svc":"good", broken' }, { msg: '[1,2]' }])
  t.is(errors.length, 1)
  t.is(errors[0].code, 'ERR_FLUENT_ENCODE')
  t.is(errors[0].records ?? 0, 0, 'nothing was lost')
  t.is(dest.client.stats().dropped, 0)
  await ended(dest)
  await server.close()
})

test('a line longer than 2 x maxRecordBytes is skipped, counted as dropped and reported', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'long', flushIntervalMs: 5, maxRecordBytes: 1024, requireAck: true })
  const errors: Array<{ code: string; records?: number }> = []
  dest.client.on('error', (e) => errors.push(e))
  dest.write(`{"a":"${'y'.repeat(1500)}"}\n`)
  dest.write(`{"big":"${'z'.repeat(3000)}`)
  dest.write(`${'z'.repeat(3000)}"}\n{"after":1}\n`)
  await dest.flush()
  t.deepEqual(
    server.entries.map((e) => e.record),
    [{ after: 1 }],
  )
  // One report per handover of lines: the destination hands held lines over together, so the two
  // may come as one report of 2 records or as two of 1.
  t.deepEqual(new Set(errors.map((e) => e.code)), new Set(['ERR_FLUENT_RECORD_TOO_LARGE']))
  t.is(
    errors.reduce((n, e) => n + (e.records ?? 0), 0),
    2,
  )
  t.is(dest.client.stats().dropped, 2)
  await ended(dest)
  await server.close()
})

test('integers beyond 2^53 keep every digit (int64 / uint64 on the wire)', async (t) => {
  const capture = await Capture.start()
  const dest = destination({ port: capture.port, tag: 'big', mode: 'message', timeAsInteger: true, flushIntervalMs: 5 })
  dest.write('{"u":18446744073709551615,"i":-9223372036854775808,"id":9007199254740993,"small":5,"f":0.1}\n')
  await dest.flush()
  await ended(dest)
  let messages = capture.messages()
  for (let i = 0; i < 100 && messages.length === 0; i++) {
    await sleep(10)
    messages = capture.messages()
  }
  t.is(messages.length, 1)
  const [tag, , record] = messages[0]
  t.is(tag, 'big')
  t.is(record.u, 18446744073709551615n)
  t.is(record.i, -9223372036854775808n)
  t.is(record.id, 9007199254740993n)
  t.is(Number(record.small), 5)
  t.is(record.f, 0.1)
  await capture.close()
})

interface Run {
  status: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

function runScript(source: string, timeoutMs = 30_000): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'fluent-pino-'))
  const file = join(dir, 'main.cjs')
  writeFileSync(file, source)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stderr })
    })
  })
}

const indexPath = fileURLToPath(new URL('../index.js', import.meta.url))

for (const mainLoadsIt of [false, true]) {
  test(`process.exit() right after logging 10,000 lines delivers them (pino autoEnd)${mainLoadsIt ? ', with fluent-native loaded in the main thread too' : ''}`, async (t) => {
    const server = await Receiver.start()
    // With the main thread's exit drain installed too, it must not close the Worker's client
    // before pino's autoEnd made the Worker take in the rest of its buffer.
    const run = await runScript(`
      ${mainLoadsIt ? `require(${JSON.stringify(indexPath)})` : ''}
      const pino = require(${JSON.stringify(pinoPath)})
      const transport = pino.transport({ target: ${JSON.stringify(pinoTarget)}, options: { port: ${server.port}, tag: 'exit' } })
      const logger = pino(transport)
      transport.once('ready', () => {
        for (let i = 0; i < 10000; i++) logger.info({ i }, 'bye')
        process.exit(0)
      })
    `)
    t.is(run.status, 0, run.stderr)
    t.true(await server.waitFor(10_000, 10_000))
    t.is(new Set(server.entries.map((e) => e.record.i)).size, 10_000)
    await server.close()
  })
}

test('a pino.transport worker that ends never crashes the process (napi-rs#3443), even with its server gone', async (t) => {
  const run = await runScript(`
    const pino = require(${JSON.stringify(pinoPath)})
    const transport = pino.transport({ target: ${JSON.stringify(pinoTarget)}, options: { port: 1, tag: 'gone', exitFlushTimeoutMs: 200, connectTimeoutMs: 100 } })
    const logger = pino(transport)
    for (let i = 0; i < 1000; i++) logger.info({ i })
    // pino's worker is unref'd: this keeps the process here until the worker is gone.
    const keep = setTimeout(() => { process.stderr.write('no close\\n'); process.exit(2) }, 10000)
    transport.once('close', () => {
      // The worker (and its writer thread) are gone; the process must keep running, then exit 0.
      setTimeout(() => { process.stderr.write('still alive\\n'); clearTimeout(keep) }, 300)
    })
    setTimeout(() => transport.end(), 200)
  `)
  t.is(run.signal, null, run.stderr)
  t.is(run.status, 0, run.stderr)
  t.true(run.stderr.includes('still alive'), run.stderr)
})

test('pino.transport with its server down says so on stderr once (from the Worker, while the main thread waits at exit)', async (t) => {
  const down = await Receiver.start()
  await down.close()
  const run = await runScript(`
    const pino = require(${JSON.stringify(pinoPath)})
    const transport = pino.transport({ target: ${JSON.stringify(pinoTarget)}, options: {
      port: ${down.port}, tag: 'down', exitFlushTimeoutMs: 3000, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 50,
    } })
    const logger = pino(transport)
    transport.once('ready', () => {
      for (let i = 0; i < 10; i++) logger.info({ i }, 'lost')
    })
  `)
  t.is(run.status, 0, run.stderr)
  const lines = run.stderr.split('\n').filter((l) => l.includes('fluent-native/pino') && l.includes('[ERR_FLUENT_CONNECT]'))
  t.is(lines.length, 1, run.stderr)
})

test('a mistyped pino.transport option is the transport\'s error, its code in the message, did-you-mean among the line options', async (t) => {
  const transport = pino.transport({ target: pinoTarget, options: { port: 1, tagkey: 'x' } })
  const err = await new Promise<Error>((resolve) => transport.once('error', resolve))
  t.regex(err.message, /^ERR_FLUENT_CONFIG: /)
  t.regex(err.message, /unknown option "tagkey" \(did you mean "tagKey"\?\)/)
})

test("destination() with its server down and no 'error' listener warns once on stderr; with a listener, only the listener hears", async (t) => {
  const down = await Receiver.start()
  await down.close()
  const warned: Array<{ code?: string; message: string }> = []
  const onWarning = (w: Error & { code?: string }) => {
    if (w.message.startsWith('fluent-native/pino')) warned.push(w)
  }
  process.on('warning', onWarning)
  t.teardown(() => process.off('warning', onWarning))
  const options = { port: down.port, tag: 'down', reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 50 }
  const unheard = destination(options)
  const heard = destination(options)
  const errors: unknown[] = []
  heard.client.on('error', (e) => errors.push(e))
  unheard.write('{"msg":"a"}\n')
  heard.write('{"msg":"a"}\n')
  // Several refused attempts each (the backoff is 20-50 ms), one warning for them all.
  t.true(await until(() => unheard.client.stats().servers[0].errors >= 3 && heard.client.stats().servers[0].errors >= 3, 10_000))
  await sleep(50)
  t.is(warned.filter((w) => w.code === 'ERR_FLUENT_CONNECT').length, 1)
  t.true(errors.length >= 3)
  await Promise.all([unheard.client.close({ timeoutMs: 0 }), heard.client.close({ timeoutMs: 0 })])
})
