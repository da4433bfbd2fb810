// The ESM entry of the installed package: same classes as require(), records delivered.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { FluentClient, FluentReceiver, FluentError } from 'fluent-native'

const cjs = createRequire(import.meta.url)('fluent-native')
assert.equal(FluentClient, cjs.FluentClient, 'import and require give the same class')
const receiver = await FluentReceiver.listen()
const client = new FluentClient({ port: receiver.port, requireAck: true })
for (let i = 0; i < 1000; i++) client.emit('pack.esm', { i })
assert.deepEqual(await client.close(), { emitted: 1000, refused: 0, sent: 1000, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
const stats = await receiver.waitFor(1000, 10_000)
assert.equal(stats.events, 1000)
assert.throws(() => new FluentClient({ nope: 1 }), (e) => e instanceof FluentError && e.code === 'ERR_FLUENT_CONFIG')
await receiver.close()
console.log('esm: 1000 records delivered and decoded')
