// Records follow one set of rules at every depth (REVIEW-0.1 #5), checked at a real Forward server.
import test from 'ava'
import { FluentClient, FluentError } from '../index.js'
import { Receiver, quick } from './helpers.ts'

async function roundTrip(records: object[]): Promise<Array<Record<string, unknown>>> {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  for (const r of records) t_emit(log, r)
  await log.close()
  await server.waitFor(records.length, 10_000)
  await server.close()
  return server.entries.map((e) => e.record)
}

function t_emit(log: FluentClient, r: object): void {
  if (!log.emit('records', r)) throw new Error('refused')
}

class HttpError extends Error {
  status: number
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'HttpError' // an own enumerable field: must not appear twice
    this.status = status
  }
}

test('a top-level Error becomes { name, message, stack, ...own fields, cause }, at every depth the same', async (t) => {
  const root = new Error('disk full')
  const err = new HttpError('upload failed', 507, { cause: root })
  const [top, nested] = await roundTrip([err, { err }])
  for (const got of [top, nested.err as Record<string, unknown>]) {
    t.is(got.name, 'HttpError')
    t.is(got.message, 'upload failed')
    t.is(got.stack, err.stack)
    t.is(got.status, 507)
    const cause = got.cause as Record<string, unknown>
    t.is(cause.name, 'Error')
    t.is(cause.message, 'disk full')
    t.is(cause.stack, root.stack)
    t.deepEqual(Object.keys(got).sort(), ['cause', 'message', 'name', 'stack', 'status'])
  }
})

test('a cause chain that loops is followed a bounded number of times', async (t) => {
  const a = new Error('a')
  const b = new Error('b', { cause: a })
  a.cause = b
  const [got] = await roundTrip([a])
  let depth = 0
  let at: Record<string, unknown> | undefined = got
  while (at !== undefined) {
    depth++
    at = at.cause as Record<string, unknown> | undefined
  }
  t.is(depth, 9) // the error and 8 causes
})

test('toJSON at the top level is honoured once (a hidden field stays hidden)', async (t) => {
  class User {
    name = 'ada'
    password = 'hunter2'
    toJSON() {
      return { name: this.name }
    }
  }
  let calls = 0
  const once = {
    toJSON() {
      calls++
      return { wrapped: { toJSON: () => 'inner toJSON is applied, as JSON does for properties' }, self: 'x' }
    },
  }
  const [user, nested, applied] = await roundTrip([new User(), { user: new User() }, once])
  t.deepEqual(user, { name: 'ada' })
  t.deepEqual(nested, { user: { name: 'ada' } })
  t.deepEqual(applied, { wrapped: 'inner toJSON is applied, as JSON does for properties', self: 'x' })
  t.is(calls, 1)
  t.false(JSON.stringify([user, nested]).includes('hunter2'))
})

test('JSON rules: own enumerable keys only, boxed primitives as values, Sets as arrays', async (t) => {
  class Base {
    inherited = 'own field of the instance'
  }
  const proto = { leaked: 'inherited enumerable' }
  const child = Object.create(proto) as Record<string, unknown>
  child.own = 1
  const [got] = await roundTrip([
    {
      child,
      instance: new Base(),
      boxed: [new Number(3), new String('s'), new Boolean(false)],
      set: new Set([1, 'two']),
      map: new Map<unknown, unknown>([
        ['k', 1],
        [2, 'number key'],
      ]),
      date: new Date(0),
    },
  ])
  t.deepEqual(got, {
    child: { own: 1 },
    instance: { inherited: 'own field of the instance' },
    boxed: [3, 's', false],
    set: [1, 'two'],
    map: { k: 1, '2': 'number key' },
    date: '1970-01-01T00:00:00.000Z',
  })
})

test('an enumerable key added to Object.prototype is left out of plain objects, as JSON leaves it out', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const record = { a: 1, nested: { b: 2 } }
  const fields = { c: 3 }
  const logger = log.logger({ tag: 'polluted', fields: { bound: 1 } })
  // Polluted and restored within one synchronous stretch: no other test in this file runs meanwhile.
  ;(Object.prototype as Record<string, unknown>).polluted = 'inherited'
  let json: string
  try {
    json = JSON.stringify(record)
    t_emit(log, record)
    logger.info('m', fields)
    logger.child({ d: 4 }).info('m')
  } finally {
    delete (Object.prototype as Record<string, unknown>).polluted
  }
  await log.close()
  await server.waitFor(3, 10_000)
  await server.close()
  t.deepEqual(JSON.parse(json), { a: 1, nested: { b: 2 } })
  const got = server.entries.map((e) => e.record)
  t.deepEqual(got[0], { a: 1, nested: { b: 2 } })
  t.deepEqual(got[1], { level: 'info', msg: 'm', bound: 1, c: 3 })
  t.deepEqual(got[2], { level: 'info', msg: 'm', bound: 1, d: 4 })
})

test('values that are not records are refused with ERR_FLUENT_INVALID_RECORD, top level or via toJSON', (t) => {
  const log = new FluentClient({ port: 1, exitFlushTimeoutMs: 0 })
  log.on('error', () => {})
  const notRecords: unknown[] = [
    new Set([1]),
    new Number(1),
    new String('s'),
    Buffer.from('x'),
    new Uint8Array(2),
    [1, 2],
    new Date(),
    { toJSON: () => 'a string' },
    { toJSON: () => [1, 2] },
    { toJSON: () => null },
  ]
  for (const [i, r] of notRecords.entries()) {
    const err = t.throws(() => log.emit('bad', r as object), undefined, `case ${i}`) as FluentError
    t.is(err.code, 'ERR_FLUENT_INVALID_RECORD', `case ${i}: ${err.message}`)
  }
  const self = { toJSON: (): unknown => self }
  t.is((t.throws(() => log.emit('bad', self)) as FluentError).code, 'ERR_FLUENT_ENCODE')
  t.is(log.stats().emitted, 0)
  void log.close({ timeoutMs: 0 })
})

test('times are read once and checked: a logging getter in a time, a forged EventTime, a Proxy Date', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const { EventTime } = await import('../index.js')
  const time = new Proxy(new EventTime(1000, 5), {
    get(target, key, receiver) {
      if (key === 'nano') log.emit('inner', { from: 'nano getter' }, new EventTime(7, 7))
      return Reflect.get(target, key, receiver)
    },
  })
  t.true(log.emit('outer', { a: 1 }, time))
  const forged = Object.assign(Object.create(EventTime.prototype), { epoch: -1, nano: 5e9 })
  t.is((t.throws(() => log.emit('bad', { a: 1 }, forged)) as FluentError).code, 'ERR_FLUENT_INVALID_TIME')
  t.is((t.throws(() => log.emitRaw('bad', Buffer.from([0x80]), forged)) as FluentError).code, 'ERR_FLUENT_INVALID_TIME')
  t.is((t.throws(() => log.emit('bad', { a: 1 }, new Proxy(new Date(), {}))) as FluentError).code, 'ERR_FLUENT_INVALID_TIME')
  const weird = {
    get a() {
      throw Object.create(null)
    },
  }
  t.is((t.throws(() => log.emit('bad', weird)) as FluentError).code, 'ERR_FLUENT_ENCODE')
  await log.close()
  await server.waitFor(2, 5000)
  await server.close()
  const times = Object.fromEntries(server.entries.map((e) => [e.tag, e.time as { epoch?: number; _epoch?: number }]))
  const epoch = (x: { epoch?: number; _epoch?: number }) => x.epoch ?? x._epoch
  t.is(epoch(times.outer), 1000)
  t.is(epoch(times.inner), 7)
})
