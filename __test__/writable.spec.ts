// Streams: client.toWritable(tag) in text (NDJSON, transcoded in Rust) and object mode, against a
// real Forward server. A stream never drops: it waits for the client's 'drain' instead.
import test from 'ava'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FluentClient, FluentError } from '../index.js'
import { Receiver, quick, sleep } from './helpers.ts'

// A short breaker cooldown: these servers are down on purpose, and come back soon.
const fast = { ...quick, breaker: { cooldownMs: 50, maxCooldownMs: 200 } }
const ack = { ...fast, requireAck: true }

test('text mode: pipeline of NDJSON cut anywhere resolves once every line is delivered', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...ack })
  const text = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ i, msg: `line ${i} ✓` }) + '\n').join('')
  const bytes = Buffer.from(text)
  const chunks: Buffer[] = []
  for (let at = 0, size = 1; at < bytes.length; at += size, size = (size * 13 + 5) % 997 || 1) {
    chunks.push(bytes.subarray(at, at + size))
  }
  await pipeline(Readable.from(chunks), client.toWritable('text.tag', { timeKey: false }))
  // requireAck: the pipeline finished after the server acknowledged everything.
  t.is(server.entries.length, 2000)
  t.deepEqual(
    server.entries.map((e) => e.record.i),
    Array.from({ length: 2000 }, (_, i) => i),
  )
  t.true(server.entries.every((e) => e.tag === 'text.tag' && e.record.msg === `line ${e.record.i} ✓`))
  await client.close()
  await server.close()
})

test('object mode: records in, each emitted; a last line without a newline still counts in text mode', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...ack })
  async function* records() {
    for (let i = 0; i < 500; i++) yield { i, when: new Date(0), nested: { ok: true } }
  }
  await pipeline(records(), client.toWritable('obj', { objectMode: true }))
  await pipeline(Readable.from(['{"last":1}\n{"last":', '2}']), client.toWritable('txt'))
  t.is(server.entries.filter((e) => e.tag === 'obj').length, 500)
  t.deepEqual(server.entries.find((e) => e.tag === 'obj')?.record, { i: 0, when: '1970-01-01T00:00:00.000Z', nested: { ok: true } })
  t.deepEqual(
    server.entries.filter((e) => e.tag === 'txt').map((e) => e.record),
    [{ last: 1 }, { last: 2 }],
  )
  await client.close()
  await server.close()
})

for (const objectMode of [false, true]) {
  test(`${objectMode ? 'object' : 'text'} mode never drops: a full buffer makes write() return false, 'drain' resumes it`, async (t) => {
    const server = await Receiver.start()
    // Room for a few hundred records; the server is down for the first 800 ms.
    const client = new FluentClient({ port: server.port, ...ack, maxBufferBytes: 32 * 1024, maxRecordBytes: 1024 })
    let drains = 0
    client.on('drain', () => drains++)
    const restart = server.restartAfter(800)
    const stream = client.toWritable('full', { objectMode, highWaterMark: objectMode ? 16 : 4096 })
    let refusals = 0
    const N = 5000
    const done = (async () => {
      for (let i = 0; i < N; i++) {
        const ok = objectMode ? stream.write({ i, pad: 'x'.repeat(64) }) : stream.write(`{"i":${i},"pad":"${'x'.repeat(64)}"}\n`)
        if (!ok) {
          refusals++
          await new Promise((resolve) => stream.once('drain', resolve))
        }
      }
      await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())))
    })()
    await restart
    await done
    t.true(await server.waitFor(N, 20_000))
    t.is(new Set(server.entries.map((e) => e.record.i)).size, N)
    t.true(refusals > 0, 'write() returned false while the buffer was full')
    t.true(drains > 0, "the client emitted 'drain'")
    t.is(client.stats().dropped, 0)
    await client.close()
    await server.close()
  })
}

test("FluentClient emits 'drain' after it refused records for lack of room", async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...fast, maxBufferBytes: 16 * 1024, maxRecordBytes: 1024 })
  const restart = server.restartAfter(300)
  let refused = 0
  for (let i = 0; i < 2000 && refused === 0; i++) if (!client.emit('t', { i, pad: 'y'.repeat(100) })) refused++
  t.is(refused, 1)
  const drained = new Promise((resolve) => client.once('drain', resolve))
  await restart
  await drained
  t.true(client.emit('t', { after: 'drain' }))
  await client.close()
  await server.close()
})

test('bad input: a bad tag throws; a bad record fails the stream with its FluentError after the good ones', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...ack })
  t.throws(() => client.toWritable(''), { instanceOf: FluentError, code: 'ERR_FLUENT_INVALID_TAG' } as never)
  t.throws(() => client.toWritable('x', { objectMode: true, timeKey: 'time' }), { code: 'ERR_FLUENT_CONFIG' } as never)
  const err = await t.throwsAsync(pipeline(Readable.from([{ a: 1 }, 42, { a: 2 }]), client.toWritable('bad', { objectMode: true })))
  t.is((err as FluentError).code, 'ERR_FLUENT_INVALID_RECORD')
  await client.flush()
  t.deepEqual(
    server.entries.map((e) => e.record),
    [{ a: 1 }],
  )
  await client.close()
  await server.close()
})

test('a stream waiting for room fails with ERR_FLUENT_CLOSED when its client closes, and does not hang', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, ...fast, maxBufferBytes: 8 * 1024, maxRecordBytes: 1024 })
  await server.close()
  const stream = client.toWritable('closing')
  const failed = new Promise<Error>((resolve) => stream.on('error', resolve))
  for (let i = 0; i < 500; i++) stream.write(`{"i":${i},"pad":"${'z'.repeat(100)}"}\n`)
  await sleep(50)
  void client.close({ timeoutMs: 100 })
  const err = await failed
  t.is((err as FluentError).code, 'ERR_FLUENT_CLOSED')
})
