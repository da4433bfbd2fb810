// Tag ids are cached per client (src/tag-ids.ts); the cache must answer only for the tag itself.
import test from 'ava'
import { FluentClient } from '../index.js'
import type { FluentError } from '../index.js'
import { Receiver, quick } from './helpers.ts'

test('tags named like Object.prototype members, and digit strings, are tags of their own', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const tags = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '42', 'app.a', 'app.b']
  for (let round = 0; round < 3; round++) {
    for (const [i, tag] of tags.entries()) t.true(log.emit(tag, { i, round }))
  }
  // A number is not a tag, though the string '42' is known by now.
  t.throws(() => log.emit(42 as unknown as string, { i: -1 }), { code: 'ERR_FLUENT_INVALID_TAG' })
  await log.close()
  await server.waitFor(3 * tags.length, 10_000)
  await server.close()
  const got = server.entries.map((e) => `${e.tag}:${String(e.record.i)}:${String(e.record.round)}`).sort()
  const want = [0, 1, 2].flatMap((round) => tags.map((tag, i) => `${tag}:${i}:${round}`)).sort()
  t.deepEqual(got, want)
})

// REVIEW-0.2 A4: an NDJSON line whose tagKey names a tag that cannot be used went to the fallback
// tag without a word. It still goes there (the line is not lost), but counted and reported.
test('an NDJSON line re-tagged to the fallback tag is counted and reported, never silent', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const errors: Array<{ code: string; message: string }> = []
  log.on('error', (e) => errors.push(e))
  const w = log.toWritable('fallback.tag', { tagKey: 'svc' })
  const long = 'x'.repeat(2000)
  await new Promise<void>((resolve, reject) => w.end(`{"svc":"good.tag","i":1}\n{"svc":"${long}","i":2}\n{"svc":"","i":3}\n`, (e?: Error | null) => (e ? reject(e) : resolve())))
  t.true(await server.waitFor(3, 10_000))
  t.deepEqual(
    server.entries.map((e) => [e.tag, e.record.i]).sort(),
    [
      ['fallback.tag', 2],
      ['fallback.tag', 3],
      ['good.tag', 1],
    ],
  )
  t.is(log.stats().retagged, 2)
  const invalid = errors.filter((e) => e.code === 'ERR_FLUENT_INVALID_TAG')
  t.is(invalid.length, 2, JSON.stringify(errors))
  t.regex(invalid[0].message, /fallback tag/)
  await log.close()
  await server.close()
})

// REVIEW-0.2 A4: tags were a lifetime budget (65,536, then every new tag threw forever). Tags with
// nothing buffered are forgotten now, and their ids reused without a record changing its tag.
test('tags are not a lifetime budget: 70,000 distinct tags over time all arrive under their own tag', async (t) => {
  t.timeout(120_000)
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick, maxBufferBytes: 64 << 20 })
  const pinned = log.logger({ tag: 'pinned.tag' })
  const total = 70_000
  for (let i = 0; i < total; i++) {
    t.true(log.emit(`t.${i}`, { i }))
    // The logger's id survives every sweep: its records keep their tag.
    if (i % 10_000 === 0) pinned.info('still mine', { i })
    if (i % 5_000 === 4_999) await log.flush({ timeoutMs: 30_000 })
  }
  await log.flush({ timeoutMs: 30_000 })
  t.true(await server.waitFor(total + 7, 60_000), `got ${server.entries.length}`)
  const wrong = server.entries.filter((e) => (e.tag === 'pinned.tag' ? e.record.msg !== 'still mine' : e.tag !== `t.${e.record.i}`))
  t.deepEqual(wrong.slice(0, 3), [])
  t.is(server.entries.filter((e) => e.tag === 'pinned.tag').length, 7)
  t.is(log.stats().sent, total + 7)
  await log.close()
  await server.close()
})

test('what stays bounded is the tags with buffered records, and the error names the bound', async (t) => {
  t.timeout(60_000)
  // Nothing is sent: every tag keeps an open batch (a long flush interval, no server).
  const log = new FluentClient({ port: 9, ...quick, flushIntervalMs: 600_000, maxBufferBytes: 64 << 20 })
  log.on('error', () => {})
  for (let i = 0; i < 65_536; i++) log.emit(`busy.${i}`, { i })
  const err = t.throws(() => log.emit('one.more', { i: -1 })) as FluentError
  t.is(err.code, 'ERR_FLUENT_INVALID_TAG')
  t.regex(err.message, /65536 tags with buffered records/)
  // A tag already known still works.
  t.true(log.emit('busy.1', { i: 1 }))
  await log.close({ timeoutMs: 10 })
})

test('an NDJSON stream naming 70,000 distinct tags over time sends each line under its own tag', async (t) => {
  t.timeout(120_000)
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick, maxBufferBytes: 64 << 20 })
  const w = log.toWritable('ndjson.fallback', { tagKey: 'svc' })
  const total = 70_000
  for (let from = 0; from < total; from += 5_000) {
    let text = ''
    for (let i = from; i < from + 5_000; i++) text += `{"svc":"n.${i}","i":${i}}\n`
    if (!w.write(text)) await new Promise((resolve) => w.once('drain', resolve))
    // Emits from JS in between: JS's tags and the stream's share the table.
    log.emit(`js.${from}`, { i: -from })
    await log.flush({ timeoutMs: 30_000 })
  }
  await new Promise<void>((resolve) => w.end(resolve))
  t.true(await server.waitFor(total + 14, 60_000), `got ${server.entries.length}`)
  const wrong = server.entries.filter((e) => (e.tag.startsWith('js.') ? e.tag !== `js.${-(e.record.i as number)}` : e.tag !== `n.${e.record.i}`))
  t.deepEqual(wrong.slice(0, 3), [])
  t.is(log.stats().retagged, 0)
  await log.close()
  await server.close()
})
