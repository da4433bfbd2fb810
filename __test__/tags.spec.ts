// Tag ids are cached per client (src/tag-ids.ts); the cache must answer only for the tag itself.
import test from 'ava'
import { FluentClient } from '../index.js'
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
