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
