// Runs in an empty directory where only the two tarballs were installed: require() the package,
// send records through the real addon to the bundled receiver, and check every one arrived.
'use strict'
const assert = require('node:assert/strict')
const { FluentClient, FluentReceiver, EventTime, collectMetrics } = require('fluent-native')
const { renderMetrics } = require('fluent-native/metrics')

async function main() {
  assert.equal(require.resolve('fluent-native').includes('node_modules'), true)
  const receiver = await FluentReceiver.listen()
  const got = []
  receiver.on('event', (ev) => got.push(ev))
  const client = new FluentClient({ port: receiver.port, requireAck: true, compress: 'gzip' })
  const n = 10_000
  for (let i = 0; i < n; i++) client.emit('pack.cjs', { i, msg: 'from the packed package' }, new EventTime(1_700_000_000, i))
  const report = await client.close()
  assert.deepEqual(report, { emitted: n, refused: 0, sent: n, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
  await receiver.waitFor(n, 10_000)
  assert.equal(got.length, n)
  got.forEach((ev, i) => {
    assert.equal(ev.tag, 'pack.cjs')
    assert.deepEqual(ev.record, { i, msg: 'from the packed package' })
    assert.equal(ev.time.nano, i)
  })
  assert.equal(typeof collectMetrics, 'function')
  assert.match(renderMetrics(client.stats()), new RegExp(`fluent_native_records_sent_total ${n}\\n`))
  await receiver.close()
  console.log(`cjs: ${n} records delivered and decoded`)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
