// Bad input: a typed error with a stable code, thrown synchronously, and nothing else lost.
import test from 'ava'
import { FluentClient, FluentError, EventTime } from '../index.js'
import { Receiver, quick } from './helpers.ts'

const circular: Record<string, unknown> = { a: 1 }
circular.self = circular

const cases: Array<[string, () => unknown[], string]> = [
  ['tag is a number', () => [42, { a: 1 }], 'ERR_FLUENT_INVALID_TAG'],
  ['tag is empty', () => ['', { a: 1 }], 'ERR_FLUENT_INVALID_TAG'],
  ['tag is too long', () => ['t'.repeat(2000), { a: 1 }], 'ERR_FLUENT_INVALID_TAG'],
  ['record is null', () => ['bad', null], 'ERR_FLUENT_INVALID_RECORD'],
  ['record is a string', () => ['bad', 'text'], 'ERR_FLUENT_INVALID_RECORD'],
  ['record is an array', () => ['bad', [1, 2]], 'ERR_FLUENT_INVALID_RECORD'],
  ['record is a Buffer', () => ['bad', Buffer.from('x')], 'ERR_FLUENT_INVALID_RECORD'],
  ['record is missing', () => ['bad'], 'ERR_FLUENT_INVALID_RECORD'],
  ['record is circular', () => ['bad', circular], 'ERR_FLUENT_ENCODE'],
  ['BigInt beyond 64 bits', () => ['bad', { n: 2n ** 70n }], 'ERR_FLUENT_ENCODE'],
  ['record over maxRecordBytes', () => ['bad', { s: 'x'.repeat(70_000) }], 'ERR_FLUENT_RECORD_TOO_LARGE'],
  ['time is negative', () => ['bad', { a: 1 }, -1], 'ERR_FLUENT_INVALID_TIME'],
  ['time is NaN', () => ['bad', { a: 1 }, NaN], 'ERR_FLUENT_INVALID_TIME'],
  ['time is a string', () => ['bad', { a: 1 }, '2024-01-01'], 'ERR_FLUENT_INVALID_TIME'],
  ['time is an invalid Date', () => ['bad', { a: 1 }, new Date('nope')], 'ERR_FLUENT_INVALID_TIME'],
  ['time is past 2106', () => ['bad', { a: 1 }, 2 ** 33], 'ERR_FLUENT_INVALID_TIME'],
]

test('each bad input throws its code; the good records around it all arrive', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, maxRecordBytes: 64 * 1024, ...quick })
  let good = 0
  for (const [name, args, code] of cases) {
    t.true(client.emit('good', { before: name }))
    good++
    const err = t.throws(() => (client.emit as (...a: unknown[]) => boolean)(...args()), undefined, name)
    t.true(err instanceof FluentError, name)
    t.is((err as FluentError).code, code, name)
    t.true(client.emit('good', { after: name }))
    good++
  }
  const report = await client.close()
  t.is(report.sent, good)
  t.true(await server.waitFor(good))
  await server.close()
  t.is(server.entries.length, good)
  t.true(server.entries.every((e) => e.tag === 'good'))
})

test('EventTime and options are validated with codes', (t) => {
  t.is(t.throws(() => new EventTime(-1, 0))?.['code' as never], 'ERR_FLUENT_INVALID_TIME')
  t.is(t.throws(() => new EventTime(1, 1e9))?.['code' as never], 'ERR_FLUENT_INVALID_TIME')
  const bad: Array<Record<string, unknown>> = [
    { port: 0 },
    { port: 70000 },
    { mode: 'json' },
    { overflow: 'block' },
    { compress: 'lz4' },
    { maxBufferBytes: -5 },
    { host: '' },
    { mode: 'message', compress: 'gzip' },
    { maxBufferBytes: 1000, maxRecordBytes: 4000 },
  ]
  for (const opts of bad) {
    const err = t.throws(() => new FluentClient(opts as never), undefined, JSON.stringify(opts))
    t.is((err as FluentError).code, 'ERR_FLUENT_CONFIG', JSON.stringify(opts))
  }
})

test('emitMany returns bad records by index and sends the rest; emitRaw validates', async (t) => {
  const { pack } = await import('msgpackr')
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...quick })
  const records: unknown[] = [{ i: 0 }, { i: 1 }, null, { i: 3, n: 2n ** 80n }, { i: 4 }]
  const result = client.emitMany('many', records as object[])
  t.is(result.accepted, 3)
  t.deepEqual(
    result.errors.map((e) => [e.index, e.error.code]),
    [
      [2, 'ERR_FLUENT_INVALID_RECORD'],
      [3, 'ERR_FLUENT_ENCODE'],
    ],
  )
  t.true(client.emitRaw('raw', pack({ raw: true, s: 'ok' })))
  for (const bad of [Buffer.from([0x91, 0x01]), Buffer.from([0x81, 0xa1]), Buffer.concat([pack({ a: 1 }), pack({ b: 2 })]), Buffer.from([0x81, 0x01, 0x02])]) {
    const err = t.throws(() => client.emitRaw('raw', bad))
    t.is((err as FluentError).code, 'ERR_FLUENT_ENCODE')
  }
  await client.close()
  t.true(await server.waitFor(4))
  await server.close()
  t.deepEqual(server.entries.map((e) => e.record).sort((a, b) => String(a.i ?? 9).localeCompare(String(b.i ?? 9))), [
    { i: 0 },
    { i: 1 },
    { i: 4 },
    { raw: true, s: 'ok' },
  ])
})

test('a throwing listener does not crash the process', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...quick })
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  client.on('connect', () => {
    throw new Error('listener bug')
  })
  client.emit('throwing', { a: 1 })
  await client.flush()
  await client.close()
  await new Promise((r) => setTimeout(r, 50))
  process.off('warning', onWarning)
  t.true(warnings.some((w) => w.includes('listener bug')))
  t.true(await server.waitFor(1))
  await server.close()
})

test('emit(tag, record) always logs, whatever the tag: emit("error", err) sends an Error record and calls no listener', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...quick })
  const heard: unknown[] = []
  const added: Array<string | symbol> = []
  client.on('error', (e) => heard.push(e))
  client.on('newListener', (name) => added.push(name))
  t.true(client.emit('error', { msg: 'logged with the tag error' }))
  t.true(client.emit('error', { msg: 'again, from the cache path' }))
  const own = new FluentError('ERR_FLUENT_IO', 'raised by hand')
  t.true(client.emit('error', own))
  t.true(client.emit('connect', { msg: 'a record, not a connection' }))
  // Not a record, as with any tag (never an EventEmitter 'drain' with a string).
  t.throws(() => client.emit('drain', 'text' as never), { code: 'ERR_FLUENT_INVALID_RECORD' } as never)
  // EventEmitter's own bookkeeping still goes through: 'newListener' for this listener.
  client.on('disconnect', () => {})
  t.deepEqual(added, ['disconnect'])
  // With no 'error' listener, EventEmitter would throw the Error; a record never does.
  const bare = new FluentClient({ port: server.port, ...quick })
  t.true(bare.emit('error', new Error('db down')))
  await Promise.all([client.close(), bare.close()])
  t.true(await server.waitFor(5))
  await server.close()
  t.deepEqual(heard, [])
  // Two connections: the order between the clients is not defined, within each it is.
  const got = server.entries.map((e) => [e.tag, e.record.msg ?? e.record.message])
  t.deepEqual(
    got.filter(([, m]) => m !== 'db down'),
    [
      ['error', 'logged with the tag error'],
      ['error', 'again, from the cache path'],
      ['error', 'raised by hand'],
      ['connect', 'a record, not a connection'],
    ],
  )
  t.deepEqual(
    got.filter(([, m]) => m === 'db down'),
    [['error', 'db down']],
  )
})
