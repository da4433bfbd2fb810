// 100,000 varied records per wire mode arrive exactly as emitted: tag, record and nanosecond time.
import test from 'ava'
import { EventTime as ServerTime } from '@fluent-org/logger'
import { FluentClient, EventTime } from '../index.js'
import { Receiver, quick } from './helpers.ts'

const N = 100_000

const words = ['plain', 'ünïcødé', '日本語のログ', 'emoji 🎉🚀', 'tab\tnew\nline "quoted" \\', '', 'x'.repeat(300)]

/** Record i, plus the value the server should decode for it. */
function recordFor(i: number): { record: Record<string, unknown>; expected: Record<string, unknown> } {
  const w = words[i % words.length]
  const bytes = Buffer.from([i & 0xff, (i >> 8) & 0xff, 0, 255])
  const record: Record<string, unknown> = {
    i,
    neg: -i * 1000,
    big: i % 3 === 0 ? 2 ** 40 + i : -(2 ** 33) - i,
    frac: i / 7,
    ok: i % 2 === 0,
    none: null,
    skipped: undefined,
    word: w,
    lone: i % 11 === 0 ? `bad \ud800 surrogate ${i}` : 'fine',
    nested: { level: { deeper: [i, 'a', { k: w }] }, list: [true, false, null] },
    bytes,
    when: new Date(1_700_000_000_000 + i),
    bigint: BigInt(i) * 1000n,
  }
  const expected: Record<string, unknown> = {
    i,
    // -0 is an integer zero on the wire, as in JSON
    neg: -i * 1000 || 0,
    big: record.big,
    frac: i / 7,
    ok: i % 2 === 0,
    none: null,
    word: w,
    lone: i % 11 === 0 ? `bad \ufffd surrogate ${i}` : 'fine',
    nested: { level: { deeper: [i, 'a', { k: w }] }, list: [true, false, null] },
    bytes: Buffer.from(bytes),
    when: new Date(1_700_000_000_000 + i).toISOString(),
    bigint: i * 1000,
  }
  return { record, expected }
}

function timeFor(i: number): EventTime {
  return new EventTime(1_700_000_000 + (i % 1000), (i * 7919) % 1_000_000_000)
}

const modes = [
  { name: 'packedForward', opts: {} },
  { name: 'packedForward + gzip', opts: { compress: 'gzip' as const } },
  { name: 'forward', opts: { mode: 'forward' as const } },
  { name: 'message', opts: { mode: 'message' as const } },
  { name: 'packedForward + requireAck', opts: { requireAck: true } },
]

for (const { name, opts } of modes) {
  test.serial(`${name}: ${N} varied records arrive exactly`, async (t) => {
    const server = await Receiver.start()
    const client = new FluentClient({ port: server.port, ...quick, ...opts })
    const errors: unknown[] = []
    client.on('error', (e) => errors.push(e))
    for (let i = 0; i < N; i++) {
      const tag = i % 2 === 0 ? 'test.even' : 'test.odd'
      t.true(client.emit(tag, recordFor(i).record, timeFor(i)))
      if (i % 10_000 === 9_999) await new Promise((r) => setImmediate(r))
    }
    await client.flush()
    const report = await client.close()
    t.deepEqual(report, { emitted: N, refused: 0, sent: N, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
    t.true(await server.waitFor(N), `server got ${server.entries.length} of ${N}`)
    await server.close()
    t.is(server.entries.length, N)
    t.deepEqual(errors, [])

    // Per tag, records arrive in emission order.
    const byTag = new Map<string, number[]>()
    let mismatches = 0
    for (const e of server.entries) {
      // The decoder hands bin back as Buffer or Uint8Array depending on its input path.
      e.record.bytes = Buffer.from(e.record.bytes as Uint8Array)
      const i = e.record.i as number
      const { expected } = recordFor(i)
      const want = timeFor(i)
      const time = e.time as ServerTime
      if (e.tag !== (i % 2 === 0 ? 'test.even' : 'test.odd')) mismatches++
      else if (!(time instanceof ServerTime) || time.epoch !== want.epoch || time.nano !== want.nano) mismatches++
      else if (mismatches < 3 && JSON.stringify(e.record) !== JSON.stringify(expected)) {
        t.deepEqual(e.record, expected)
        mismatches++
      }
      const list = byTag.get(e.tag) ?? []
      list.push(i)
      byTag.set(e.tag, list)
    }
    t.is(mismatches, 0)
    for (const list of byTag.values()) t.true(list.every((v, k) => k === 0 || v > list[k - 1]))
    // Deep check (types included) on a sample spread over the run.
    for (const e of server.entries.filter((_, k) => k % 997 === 0)) {
      t.deepEqual(e.record, recordFor(e.record.i as number).expected)
    }
  })
}

test.serial('timeAsInteger sends integer seconds; default time is now with nanoseconds', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, timeAsInteger: true, ...quick })
  client.emit('t.int', { a: 1 }, 1_700_000_000.75)
  await client.close()
  const plain = new FluentClient({ port: server.port, ...quick })
  const before = Date.now() / 1000
  plain.emit('t.now', { a: 2 })
  plain.emit('t.date', { a: 3 }, new Date(1_700_000_000_123))
  await plain.close()
  t.true(await server.waitFor(3))
  await server.close()
  const [int, now, date] = server.entries
  t.is(int.time, 1_700_000_000)
  const nt = now.time as ServerTime
  t.true(nt instanceof ServerTime)
  t.true(Math.abs(nt.epoch + nt.nano / 1e9 - before) < 5)
  const dt = date.time as ServerTime
  t.deepEqual([dt.epoch, dt.nano], [1_700_000_000, 123_000_000])
})

test.serial('two clients emitting in turns each deliver only their own records', async (t) => {
  const [a, b] = await Promise.all([Receiver.start(), Receiver.start()])
  const ca = new FluentClient({ port: a.port, ...quick })
  const cb = new FluentClient({ port: b.port, ...quick })
  for (let i = 0; i < 3000; i++) {
    // Alternating owners of the shared staging buffer, sometimes several in a row.
    ;(i % 3 === 0 ? cb : ca).emit('two.clients', { i, to: i % 3 === 0 ? 'b' : 'a' })
  }
  await Promise.all([ca.close(), cb.close()])
  t.true(await a.waitFor(2000))
  t.true(await b.waitFor(1000))
  await Promise.all([a.close(), b.close()])
  t.is(a.entries.length, 2000)
  t.is(b.entries.length, 1000)
  t.true(a.entries.every((e) => e.record.to === 'a'))
  t.true(b.entries.every((e) => e.record.to === 'b'))
  const order = a.entries.map((e) => e.record.i as number)
  t.true(order.every((v, k) => k === 0 || v > order[k - 1]))
})
