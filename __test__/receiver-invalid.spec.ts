// FluentReceiver: one bad event never takes its neighbours (REVIEW-0.2 B3). Each request below holds
// good events around one the JS decoder used to throw on; every good one must arrive, the bad one
// is counted invalid and reported, and waitFor agrees with what the listener saw.
import test from 'ava'
import { connect } from 'node:net'
import { FluentClient, FluentReceiver } from '../index.js'
import type { FluentError, ReceivedEvent } from '../index.js'

// A few msgpack builders: the cases need bytes no encoder writes (a `__proto__` key, nil keys).
const str = (s: string): Buffer => {
  const b = Buffer.from(s)
  if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b])
  return Buffer.concat([Buffer.from([0xd9, b.length]), b])
}
const map = (pairs: Array<[Buffer, Buffer]>): Buffer => Buffer.concat([Buffer.from([0x80 | pairs.length]), ...pairs.flat()])
const int = (n: number): Buffer => Buffer.from([n])
const entry = (record: Buffer): Buffer => Buffer.concat([Buffer.from([0x92, 0xce, 0x65, 0x53, 0xf1, 0x00]), record])
/** Forward mode: `[tag, [entries...]]`, one request. */
const forward = (tag: string, entries: Buffer[]): Buffer => Buffer.concat([Buffer.from([0x92]), str(tag), Buffer.from([0xdc, entries.length >> 8, entries.length & 0xff]), ...entries])
const good = (i: number): Buffer => entry(map([[str('i'), int(i)]]))

async function send(port: number, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(bytes, () => resolve()))
    s.on('error', reject)
  })
}

async function deliver(bad: Buffer, t: { is: (a: unknown, b: unknown, m?: string) => void }) {
  const r = await FluentReceiver.listen()
  const got: ReceivedEvent[] = []
  const reported: FluentError[] = []
  r.on('event', (ev) => got.push(ev))
  r.on('invalid', (e: FluentError) => reported.push(e))
  await send(r.port!, forward('bad.one', [good(1), good(2), bad, good(3)]))
  const s = await r.waitFor(3, 10_000)
  await r.close()
  const is = got.filter((e) => 'i' in e.record).map((e) => e.record.i)
  t.is(JSON.stringify(is), '[1,2,3]', 'every good neighbour arrives, in order')
  return { got, reported, stats: s }
}

test('a __proto__ key arrives as a plain own property, neighbours too', async (t) => {
  const bad = entry(map([[str('__proto__'), map([[str('x'), int(1)]])], [str('a'), int(7)]]))
  const { got, reported, stats } = await deliver(bad, t)
  t.is(got.length, 4)
  const rec = got.find((e) => 'a' in e.record)!.record
  t.is(Object.getPrototypeOf(rec), Object.prototype)
  t.deepEqual(Object.getOwnPropertyDescriptor(rec, '__proto__')?.value, { x: 1 })
  t.deepEqual(Object.keys(rec), ['__proto__', 'a'])
  t.is((Object.prototype as Record<string, unknown>).x, undefined, 'nothing leaked into Object.prototype')
  t.is(reported.length, 0)
  t.is(stats.events, 4)
  t.is(stats.invalid, 0)
})

test('our own client sends a JSON.parse record with __proto__: it arrives with its neighbours', async (t) => {
  const r = await FluentReceiver.listen()
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const client = new FluentClient({ port: r.port, mode: 'packedForward', requireAck: true })
  client.emit('json.a', { n: 1 })
  client.emit('json.b', JSON.parse('{"__proto__":{"polluted":true},"n":2}'))
  client.emit('json.c', { n: 3 })
  await client.close()
  await r.waitFor(3, 10_000)
  await r.close()
  t.deepEqual(got.map((e) => e.record.n), [1, 2, 3])
  t.deepEqual(Object.getOwnPropertyDescriptor(got[1].record, '__proto__')?.value, { polluted: true })
  t.is(({} as Record<string, unknown>).polluted, undefined)
})

test('a malformed timestamp extension is kept as its bytes; neighbours arrive', async (t) => {
  // ext -1 (timestamp) of 3 bytes: no such timestamp format.
  const bad = entry(map([[str('ts'), Buffer.from([0xc7, 0x03, 0xff, 1, 2, 3])]]))
  const { got, stats } = await deliver(bad, t)
  t.is(got.length, 4)
  const ts = got.find((e) => 'ts' in e.record)!.record.ts as { type: number; data: Uint8Array }
  t.is(ts.type, -1)
  t.deepEqual([...ts.data], [1, 2, 3])
  t.is(stats.events, 4)
})

test('a nil key in a nested map: that event is invalid and reported, its neighbours arrive', async (t) => {
  const bad = entry(map([[str('n'), map([[Buffer.from([0xc0]), int(1)]])]]))
  const { got, reported, stats } = await deliver(bad, t)
  t.is(got.length, 3)
  t.is(reported.length, 1)
  t.is(reported[0].code, 'ERR_FLUENT_INVALID_RECORD')
  t.is(reported[0].tag, 'bad.one')
  t.is(stats.events, 3, 'stats agree with the listener')
  t.is(stats.invalid, 1)
})

test('deep nesting beside a 64-bit integer: no stack overflow, every event arrives', async (t) => {
  const depth = 200_000
  const deep = Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0x01])])
  const wide = Buffer.from([0xcf, 0x00, 0x20, 0, 0, 0, 0, 0, 1]) // 2^53 + 1: stays a bigint
  const bad = entry(map([[str('deep'), deep], [str('w'), wide]]))
  const { got, stats } = await deliver(bad, t)
  t.is(got.length, 4)
  t.is(got.find((e) => 'w' in e.record)!.record.w, 2n ** 53n + 1n)
  t.is(stats.events, 4)
  t.is(stats.invalid, 0)
})

test('waitFor resolves with the count the listener saw when an event is undecodable', async (t) => {
  const r = await FluentReceiver.listen()
  let seen = 0
  r.on('event', () => seen++)
  r.on('invalid', () => {})
  const bad = entry(map([[str('n'), map([[Buffer.from([0xc0]), int(1)]])]]))
  await send(r.port!, forward('w', [good(1), bad, good(2), bad]))
  const s = await r.waitFor(2, 10_000)
  t.is(seen, 2)
  t.is(s.events, 2)
  t.is(s.invalid, 2)
  // Asking for one more than arrived times out instead of resolving on the native count.
  await t.throwsAsync(r.waitFor(3, 300), { code: 'ERR_FLUENT_TIMEOUT' })
  await r.close()
})
