// Re-entrancy: user code that runs while a record is being encoded (getters, toJSON, Proxy traps)
// may call back into any client. Every record emit accepted arrives intact, or emit throws a
// FluentError and nothing else is affected (REVIEW-0.1 #1).
import test from 'ava'
import { pack } from 'msgpackr'
import { FluentClient, FluentError } from '../index.js'
import type { FluentClientOptions } from '../index.js'
import { Receiver, quick } from './helpers.ts'

interface Case {
  name: string
  /** Records of two clients travel on two connections: only the set is defined, not the order. */
  unordered?: boolean
  /** Emits through `log` (and `other`, a second client on the same server); returns what must arrive. */
  run(log: FluentClient, other: FluentClient): Array<[string, Record<string, unknown>]>
}

const cases: Case[] = [
  {
    name: 'a getter that logs on the same client',
    run(log) {
      log.emit('outer', {
        a: 1,
        get b() {
          log.emit('inner', { x: 1 })
          return 2
        },
        c: 'after',
      })
      return [
        ['inner', { x: 1 }],
        ['outer', { a: 1, b: 2, c: 'after' }],
      ]
    },
  },
  {
    name: 'a getter that logs on another client',
    unordered: true,
    run(log, other) {
      log.emit('outer', {
        a: 1,
        get b() {
          other.emit('inner.other', { y: 'z' })
          return [1, 2, 3]
        },
      })
      return [
        ['inner.other', { y: 'z' }],
        ['outer', { a: 1, b: [1, 2, 3] }],
      ]
    },
  },
  {
    // The getter hands this client's staged records over in the middle of its record; switching to
    // the other client next parks this stage, which must then hold only what came after.
    name: 'a getter that logs on another client, which logs next',
    unordered: true,
    run(log, other) {
      log.emit('outer', {
        get b() {
          other.emit('inner.other', { y: 'z' })
          return 2
        },
      })
      other.emit('other.next', { n: 1 })
      return [
        ['inner.other', { y: 'z' }],
        ['outer', { b: 2 }],
        ['other.next', { n: 1 }],
      ]
    },
  },
  {
    name: 'a nested toJSON that calls stats() and flush()',
    run(log) {
      log.emit('outer', {
        when: {
          toJSON() {
            log.stats()
            log.flush().catch(() => {})
            return 'now'
          },
        },
        tail: 'x'.repeat(40),
      })
      return [['outer', { when: 'now', tail: 'x'.repeat(40) }]]
    },
  },
  {
    name: 'a getter that calls emitRaw',
    run(log) {
      log.emit('outer', {
        get raw() {
          log.emitRaw('inner.raw', pack({ r: true }))
          return 'ok'
        },
      })
      return [
        ['inner.raw', { r: true }],
        ['outer', { raw: 'ok' }],
      ]
    },
  },
  {
    name: 'Proxy traps that log',
    run(log) {
      const target = { p: 1, q: 'two' }
      const proxy = new Proxy(target, {
        ownKeys(t) {
          log.emit('inner.keys', { trap: 'ownKeys' })
          return Reflect.ownKeys(t)
        },
        get(t, key, receiver) {
          if (key === 'q') log.emit('inner.get', { trap: 'get' })
          return Reflect.get(t, key, receiver)
        },
      })
      log.emit('outer', { proxy })
      return [
        ['inner.keys', { trap: 'ownKeys' }],
        ['inner.get', { trap: 'get' }],
        ['outer', { proxy: { p: 1, q: 'two' } }],
      ]
    },
  },
  {
    name: 'a top-level toJSON that logs, twice nested',
    run(log) {
      log.emit('outer', {
        toJSON() {
          log.emit('inner.1', {
            get deeper() {
              log.emit('inner.2', { depth: 2 })
              return 1
            },
          })
          return { shown: true }
        },
      })
      return [
        ['inner.2', { depth: 2 }],
        ['inner.1', { deeper: 1 }],
        ['outer', { shown: true }],
      ]
    },
  },
  {
    name: 'a getter that logs many records (past the handover size)',
    run(log) {
      const inner: Array<[string, Record<string, unknown>]> = []
      log.emit('outer', {
        get many() {
          for (let i = 0; i < 300; i++) {
            log.emit('inner.many', { i, pad: 'p'.repeat(300) })
            inner.push(['inner.many', { i, pad: 'p'.repeat(300) }])
          }
          return 300
        },
      })
      return [...inner, ['outer', { many: 300 }]]
    },
  },
]

async function withClients(
  fn: (log: FluentClient, other: FluentClient) => Array<[string, Record<string, unknown>]>,
  options: FluentClientOptions = {},
) {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick, ...options })
  const other = new FluentClient({ port: server.port, ...quick, ...options })
  const errors: FluentError[] = []
  log.on('error', (e: FluentError) => errors.push(e))
  other.on('error', (e: FluentError) => errors.push(e))
  log.emit('before', { i: 0 })
  const expected = fn(log, other)
  log.emit('after', { i: 1 })
  const reports = [await log.close(), await other.close()]
  const total = expected.length + 2
  await server.waitFor(total, 10_000)
  await server.close()
  return { server, expected, reports, errors, total }
}

for (const c of cases) {
  test(`${c.name}: every record arrives intact, in order, and is counted once`, async (t) => {
    const { server, expected, reports, errors, total } = await withClients(c.run)
    t.deepEqual(errors, [])
    t.is(server.entries.length, total)
    t.is(reports[0].sent + reports[1].sent, total, 'stats count exactly what the server decoded')
    const got = server.entries.map((e) => [e.tag, e.record])
    const sorted = (xs: unknown[]) => (c.unordered ? xs.map((x) => JSON.stringify(x)).sort() : xs)
    t.deepEqual(sorted(got.filter(([tag]) => tag !== 'before' && tag !== 'after')), sorted(expected))
    // The records around it are untouched and keep their order on their client.
    const own = got.filter(([tag]) => tag === 'before' || tag === 'after')
    t.deepEqual(own, [
      ['before', { i: 0 }],
      ['after', { i: 1 }],
    ])
  })
}

test('a getter that closes the client: the outer record is refused and counted, nothing else is lost', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  log.on('error', () => {})
  log.emit('before', { i: 0 })
  let closing: Promise<unknown> | undefined
  const accepted = log.emit('outer', {
    get b() {
      closing = log.close()
      return 1
    },
  })
  t.false(accepted)
  const report = (await closing) as { sent: number; dropped: number }
  await server.waitFor(1, 5000)
  await server.close()
  t.deepEqual(
    server.entries.map((e) => e.tag),
    ['before'],
  )
  t.is(report.sent, 1)
  t.is(log.stats().dropped, 1)
})

test('a getter, toJSON or trap that throws gives ERR_FLUENT_ENCODE with the cause; the rest is delivered', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const boom = new TypeError('getter exploded')
  const throwers: unknown[] = [
    {
      get a() {
        throw boom
      },
    },
    { nested: { toJSON: () => { throw boom } } },
    {
      toJSON() {
        throw boom
      },
    },
    new Proxy({}, { ownKeys: () => { throw boom } }),
    new Proxy({}, { getPrototypeOf: () => { throw boom } }),
    // A getter whose own logging fails: that error is the getter's, not the outer record's.
    {
      get b() {
        log.emit('', { bad: 'tag' })
        return 1
      },
    },
  ]
  const recursive: Record<string, unknown> = {}
  recursive.toJSON = () => recursive
  throwers.push({ r: recursive })
  // Each toJSON hands back a fresh level: bounded by the nesting limit, not by the stack.
  const deep = (n: number): unknown => (n === 0 ? 1 : { toJSON: () => ({ next: deep(n - 1) }) })
  throwers.push({ d: deep(10_000) })
  const self: Record<string, unknown> = { x: 1 }
  self.toJSON = function () {
    return (this as { toJSON: () => unknown }).toJSON()
  }
  throwers.push({ s: self })
  let good = 0
  for (const [i, rec] of throwers.entries()) {
    t.true(log.emit('good', { i, side: 'before' }))
    good++
    const err = t.throws(() => log.emit('bad', rec as object), undefined, `case ${i}`) as FluentError
    t.true(err instanceof FluentError, `case ${i}`)
    t.is(err.code, 'ERR_FLUENT_ENCODE', `case ${i}: ${err.message}`)
    if (i <= 4) t.is(err.cause, boom, `case ${i}`)
    t.true(log.emit('good', { i, side: 'after' }))
    good++
  }
  const many = log.emitMany('many', [{ ok: 1 }, throwers[0] as object, { ok: 2 }])
  t.is(many.accepted, 2)
  t.is(many.errors[0].error.code, 'ERR_FLUENT_ENCODE')
  const report = await log.close()
  t.is(report.sent, good + 2)
  t.true(await server.waitFor(good + 2, 10_000))
  await server.close()
  t.true(server.entries.every((e) => e.tag === 'good' || e.tag === 'many'))
})

test('a getter that logs its own object recurses to the nesting limit: ERR_FLUENT_ENCODE, and later records are intact', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  for (let i = 0; i < 5; i++) log.emit('early', { i })
  const o = {
    get s() {
      log.emit('debug', { o })
      return 1
    },
  }
  const err = t.throws(() => log.emit('top', o)) as FluentError
  t.is(err.code, 'ERR_FLUENT_ENCODE')
  for (let i = 0; i < 20; i++) t.true(log.emit('late', { i }))
  const report = await log.close()
  await server.waitFor(25, 5000)
  await server.close()
  t.deepEqual(
    server.entries.map((e) => [e.tag, e.record.i]),
    [...Array.from({ length: 5 }, (_, i) => ['early', i]), ...Array.from({ length: 20 }, (_, i) => ['late', i])],
  )
  t.is(report.sent, 25)
})

test('an array that grows or shrinks while it is encoded is written as JSON reads it (length read once)', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const grows: unknown[] = [1, 2]
  Object.defineProperty(grows, 0, {
    get() {
      grows.push('late')
      return 'first'
    },
    enumerable: true,
  })
  const shrinks: unknown[] = [1, 2, 3]
  Object.defineProperty(shrinks, 0, {
    get() {
      shrinks.length = 1
      return 'only'
    },
    enumerable: true,
  })
  const weird = new Proxy([1], { get: (target, key) => (key === 'length' ? 2.5 : Reflect.get(target, key)) })
  t.true(log.emit('arrays', { grows }))
  t.true(log.emit('arrays', { shrinks }))
  t.is((t.throws(() => log.emit('arrays', { weird })) as FluentError).code, 'ERR_FLUENT_ENCODE')
  t.true(log.emit('arrays', { after: true }))
  const report = await log.close()
  await server.waitFor(3, 5000)
  await server.close()
  t.deepEqual(
    server.entries.map((e) => e.record),
    [{ grows: ['first', 2] }, { shrinks: ['only', null, null] }, { after: true }],
  )
  t.is(report.sent, 3)
})
