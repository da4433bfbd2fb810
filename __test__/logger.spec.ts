// The leveled logger (issue 11): records checked at a real Forward server; the raw bytes checked for
// keys written twice (a decoder would hide those, the last one winning).
import test from 'ava'
import { Unpackr } from 'msgpackr'
import { FluentClient, FluentError } from '../index.js'
import { encodeEntries, encodeSpliced, encodeString, NO_ENTRIES, scratch, spliced, toWords } from '../src/encoder.js'
import { Receiver, quick } from './helpers.ts'

type Rec = Record<string, unknown>

async function withLogger(
  run: (client: FluentClient, errors: FluentError[]) => void | Promise<void>,
  expected: number,
): Promise<{ records: Rec[]; tags: string[]; errors: FluentError[] }> {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...quick })
  const errors: FluentError[] = []
  client.on('error', (e: FluentError) => errors.push(e))
  await run(client, errors)
  await client.close()
  await server.waitFor(expected, 10_000)
  await server.close()
  return { records: server.entries.map((e) => e.record), tags: server.entries.map((e) => e.tag), errors }
}

test('records carry level, message, bound and call fields; a call field replaces a bound one', async (t) => {
  const { records, tags } = await withLogger((client) => {
    const root = client.logger({ tag: 'app.http', fields: { service: 'checkout', n: 1 } })
    const child = root.child({ requestId: 'r-1', n: 2 })
    const grandchild = child.child({ user: 'u1', requestId: 'r-2' })
    t.true(child.info('request done', { n: 3, status: 200 }))
    t.true(root.warn('slow'))
    t.true(grandchild.error('failed', { requestId: undefined }))
  }, 3)
  t.deepEqual(tags, ['app.http', 'app.http', 'app.http'])
  t.deepEqual(records[0], { level: 'info', msg: 'request done', service: 'checkout', requestId: 'r-1', n: 3, status: 200 })
  t.deepEqual(records[1], { level: 'warn', msg: 'slow', service: 'checkout', n: 1 })
  // A call field set to undefined removes the bound one, as an object spread then JSON would.
  t.deepEqual(records[2], { level: 'error', msg: 'failed', service: 'checkout', n: 2, user: 'u1' })
})

test('no key appears twice in the bytes: level and message win over bound and call fields of the same key', (t) => {
  const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false })
  const bound = encodeEntries({ lvl: 'bound', text: 'bound', a: 1, b: 2 }, NO_ENTRIES, 1 << 20)
  const cases: Array<{ message: unknown; fields: object | undefined; want: Rec }> = [
    { message: 'm', fields: { lvl: 'call', text: 'call', b: 3, c: 4 }, want: { lvl: 'info', text: 'm', a: 1, b: 3, c: 4 } },
    { message: undefined, fields: { text: 'call' }, want: { lvl: 'info', a: 1, b: 2, text: 'call' } },
    { message: undefined, fields: undefined, want: { lvl: 'info', text: 'bound', a: 1, b: 2 } },
    // 20 call fields: a map header of 3 bytes after one of 1 byte at the same depth, and back.
    { message: 'm', fields: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])), want: { lvl: 'info', text: 'm', a: 1, b: 2, ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])) } },
    { message: 'm', fields: { a: 9 }, want: { lvl: 'info', text: 'm', b: 2, a: 9 } },
  ]
  for (const c of cases) {
    Object.assign(spliced, {
      levelKey: 'lvl',
      levelEntry: toWords(Buffer.concat([encodeString('lvl'), encodeString('info')])),
      messageKey: 'text',
      levelHead: toWords(Buffer.concat([encodeString('lvl'), encodeString('info'), encodeString('text')])),
      message: c.message,
      bound,
      fields: c.fields,
    })
    const end = encodeSpliced(0, 1 << 20)
    const bytes = Buffer.from(scratch().subarray(0, end))
    const head = bytes[0]
    const count = head >= 0x80 && head <= 0x8f ? head & 0x0f : head === 0xde ? bytes.readUInt16BE(1) : -1
    const [decoded] = unpackr.unpackMultiple(bytes) as Rec[]
    t.deepEqual(decoded, c.want)
    t.is(count, Object.keys(c.want).length, 'map header counts each key once')
    t.deepEqual(Object.keys(decoded), Object.keys(c.want))
  }
  t.is(spliced.fields, undefined, 'the shared record holds no reference to a call’s fields')
})

test('level and message keys of every length up to two words come out exact, with and without a message', async (t) => {
  // The pre-encoded level entry is copied a word at a time: every length modulo 4, and the empty
  // words of no key at all, must leave exactly the bytes and nothing after them.
  const keys = Array.from({ length: 9 }, (_, i) => 'abcdefghi'.slice(0, i + 1))
  const expected: Rec[] = []
  const { records } = await withLogger((client) => {
    for (const levelKey of keys) {
      const messageKey = `${levelKey}M`
      const log = client.logger({ tag: 'app.keys', levelKey, messageKey, fields: { b: 1 } })
      t.true(log.warn('m', { c: 2 }))
      t.true(log.error(undefined, { c: 3 }))
      expected.push({ [levelKey]: 'warn', [messageKey]: 'm', b: 1, c: 2 }, { [levelKey]: 'error', b: 1, c: 3 })
    }
  }, keys.length * 2)
  t.deepEqual(records, expected)
  for (const r of records) t.deepEqual(Object.keys(r), Object.keys(expected[records.indexOf(r)]))
})

test('a disabled level returns false before touching its arguments; level is settable, children start at the parent’s', async (t) => {
  let touched = 0
  const trap = new Proxy(
    {},
    {
      get: () => void touched++,
      ownKeys: () => {
        touched++
        return []
      },
      getPrototypeOf: () => {
        touched++
        return null
      },
    },
  )
  const { records } = await withLogger((client) => {
    const log = client.logger({ tag: 'lv', level: 'warn' })
    t.is(log.level, 'warn')
    t.false(log.isLevelEnabled('info'))
    t.true(log.isLevelEnabled('error'))
    t.false(log.info('dropped', trap))
    t.false(log.debug(trap as never, trap))
    t.false(log.trace('dropped'))
    t.is(touched, 0)
    const child = log.child({ c: 1 })
    t.is(child.level, 'warn')
    log.level = 'debug'
    t.is(child.level, 'warn', 'a child is set apart from its parent once made')
    t.true(log.debug('now on'))
    log.level = 'silent'
    t.false(log.fatal('off'))
    t.false(log.isLevelEnabled('silent'))
    t.throws(() => {
      log.level = 'verbose' as never
    }, { code: 'ERR_FLUENT_CONFIG' })
    t.is(log.level, 'silent')
    t.true(child.fatal('child still on'))
    const { warn } = child
    t.true(warn('unbound call'), 'level methods are bound')
  }, 3)
  t.deepEqual(records, [
    { level: 'debug', msg: 'now on' },
    { level: 'fatal', msg: 'child still on', c: 1 },
    { level: 'warn', msg: 'unbound call', c: 1 },
  ])
})

test('bound fields are read once, when the child is made (getters and toJSON do not run per record)', async (t) => {
  let reads = 0
  const { records } = await withLogger((client) => {
    const fields = {
      get region() {
        reads++
        return 'eu'
      },
      at: { toJSON: () => (reads++, 'now') },
    }
    const log = client.logger({ tag: 'once' }).child(fields)
    for (let i = 0; i < 5; i++) log.info('x', { i })
  }, 5)
  t.is(reads, 2)
  t.is(records.length, 5)
  t.deepEqual(records[4], { level: 'info', msg: 'x', region: 'eu', at: 'now', i: 4 })
})

test('root loggers with different keys share nothing that shows: each record carries its own logger’s keys, past the shared-key cap too', async (t) => {
  // 70 key pairs: more than the 64 whose encodings are shared, so both kinds are exercised, interleaved.
  const pairs = Array.from({ length: 70 }, (_, i) => ({ levelKey: `lv${i}`, messageKey: i % 2 === 0 ? 'msg' : `m${i}` }))
  const { records, tags } = await withLogger((client) => {
    const loggers = pairs.map((p, i) => client.logger({ tag: `keys.${i}`, ...p }))
    // A second logger with the first pair's keys (the shared entry) and a default one.
    const again = client.logger({ tag: 'keys.again', ...pairs[0] })
    const plain = client.logger({ tag: 'keys.plain' })
    for (let round = 0; round < 2; round++) {
      loggers.forEach((l, i) => t.true(round === 0 ? l.info(`m-${i}`, { i }) : l.error(`e-${i}`, { i })))
      t.true(again.warn('again'))
      t.true(plain.debug('hidden') === false && plain.info('plain'))
    }
  }, 2 * 72)
  // Records arrive grouped by tag (a batch per tag), in order within a tag.
  const byTag = new Map<string, Rec[]>()
  records.forEach((r, i) => byTag.set(tags[i], [...(byTag.get(tags[i]) ?? []), r]))
  pairs.forEach((p, i) => {
    t.deepEqual(byTag.get(`keys.${i}`), [
      { [p.levelKey]: 'info', [p.messageKey]: `m-${i}`, i },
      { [p.levelKey]: 'error', [p.messageKey]: `e-${i}`, i },
    ])
  })
  t.deepEqual(byTag.get('keys.again'), [{ lv0: 'warn', msg: 'again' }, { lv0: 'warn', msg: 'again' }])
  t.deepEqual(byTag.get('keys.plain'), [{ level: 'info', msg: 'plain' }, { level: 'info', msg: 'plain' }])
})

test('Errors: as the message they go to `err` with their message; as fields they follow the encoder’s Error rules', async (t) => {
  const cause = new Error('disk full')
  const err = Object.assign(new TypeError('upload failed', { cause }), { status: 507 })
  const { records } = await withLogger((client) => {
    const log = client.logger({ tag: 'err', messageKey: 'message', levelKey: 'severity' })
    log.error(err, { user: 'u1' })
    log.error('wrapped', { error: err })
    log.warn('as fields', err)
  }, 3)
  const expectErr = (got: Rec): void => {
    t.is(got.name, 'TypeError')
    t.is(got.message, 'upload failed')
    t.is(got.stack, err.stack)
    t.is(got.status, 507)
    t.is((got.cause as Rec).message, 'disk full')
  }
  t.is(records[0].severity, 'error')
  t.is(records[0].message, 'upload failed')
  t.is(records[0].user, 'u1')
  expectErr(records[0].err as Rec)
  t.is(records[1].message, 'wrapped')
  expectErr(records[1].error as Rec)
  expectErr(records[2].err as Rec)
})

test('a record that cannot be encoded is an ERR_FLUENT_ENCODE event, not a throw; the others are delivered', async (t) => {
  const { records, errors } = await withLogger(async (client) => {
    const log = client.logger({ tag: 'bad' })
    t.true(log.info('before'))
    t.false(log.info('huge bigint', { big: 1n << 70n }))
    t.false(
      log.info('getter throws', {
        get boom(): never {
          throw new Error('nope')
        },
      }),
    )
    t.false(log.info('fields not an object', 42 as never))
    t.true(log.info('after'))
    await new Promise((resolve) => setImmediate(resolve))
  }, 2)
  t.deepEqual(
    records.map((r) => r.msg),
    ['before', 'after'],
  )
  t.deepEqual(
    errors.map((e) => e.code),
    ['ERR_FLUENT_ENCODE', 'ERR_FLUENT_ENCODE', 'ERR_FLUENT_INVALID_RECORD'],
  )
  t.true(errors[1].cause instanceof Error)
})

test('a getter in a call’s fields that logs through the same logger: both records arrive whole', async (t) => {
  const { records } = await withLogger((client) => {
    const log = client.logger({ tag: 'nest' }).child({ svc: 'a' })
    log.info('outer', {
      get inner() {
        log.warn('inner', { depth: 2 })
        return 'read'
      },
      after: 1,
    })
  }, 2)
  // The nested record is handed over on its own, before the outer one is committed.
  t.deepEqual(records, [
    { level: 'warn', msg: 'inner', svc: 'a', depth: 2 },
    { level: 'info', msg: 'outer', svc: 'a', inner: 'read', after: 1 },
  ])
})

test('options and fields are checked: typed errors, nothing half-made', async (t) => {
  const client = new FluentClient({ port: 1, ...quick })
  t.throws(() => client.logger({ tag: '' }), { code: 'ERR_FLUENT_INVALID_TAG' })
  t.throws(() => client.logger({ tag: 'a', level: 'loud' as never }), { code: 'ERR_FLUENT_CONFIG' })
  t.throws(() => client.logger({ tag: 'a', lvl: 'info' } as never), { code: 'ERR_FLUENT_CONFIG' })
  t.throws(() => client.logger({ tag: 'a', levelKey: 'k', messageKey: 'k' }), { code: 'ERR_FLUENT_CONFIG' })
  t.throws(() => client.logger({ tag: 'a', fields: [1, 2] }), { code: 'ERR_FLUENT_INVALID_RECORD' })
  t.throws(() => client.logger({ tag: 'a', fields: { n: 1n << 70n } }), { code: 'ERR_FLUENT_ENCODE' })
  const log = client.logger({ tag: 'a' })
  t.throws(() => log.child(null as never), { code: 'ERR_FLUENT_INVALID_RECORD' })
  t.throws(
    () =>
      log.child({
        get x(): never {
          throw new Error('getter')
        },
      }),
    { code: 'ERR_FLUENT_ENCODE' },
  )
  await client.close({ timeoutMs: 100 })
  t.false(log.info('after close'))
})
