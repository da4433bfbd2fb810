// Demo: sends a few events and shows what arrived.
//   npm run demo                             -> starts the bundled receiver (FluentReceiver) on loopback
//   FLUENT_HOST=h FLUENT_PORT=p npm run demo -> sends to your fluentd / Fluent Bit instead
'use strict'
const { FluentClient, FluentReceiver, EventTime } = require('./index.js')
const { eventLine } = require('./src/cli/json.js')

async function main() {
  const external = process.env.FLUENT_PORT !== undefined
  const receiver = external ? undefined : await FluentReceiver.listen({ port: 0 })
  const events = []
  receiver?.on('event', (ev) => events.push(ev))
  const port = external ? Number(process.env.FLUENT_PORT) : receiver.port
  const host = process.env.FLUENT_HOST ?? '127.0.0.1'
  console.log(external ? `sending to ${host}:${port}` : `started the bundled FluentReceiver on 127.0.0.1:${port}`)

  const log = new FluentClient({ host, port, requireAck: true })
  log.on('connect', () => console.log('connected'))
  log.on('error', (err) => console.error(`error ${err.code}: ${err.message}`))

  log.emit('demo.access', { method: 'GET', path: '/', status: 200, ms: 1.25 })
  log.emit('demo.access', { method: 'POST', path: '/login', status: 401, user: { id: 42, roles: ['guest'] } })
  log.emit('demo.app', { level: 'info', msg: 'unicode ✓ 日本語 🎉', at: new Date(), raw: Buffer.from('bytes') }, new EventTime(1700000000, 123456789))
  log.emit('demo.app', { level: 'warn', msg: 'big numbers', n: 2 ** 53 - 1, id: 2n ** 63n - 1n }, Date.now() / 1000)
  const batch = log.emitMany('demo.batch', Array.from({ length: 1000 }, (_, i) => ({ i, msg: 'hello world' })))
  console.log(`emitMany accepted ${batch.accepted} records`)

  const report = await log.close({ timeoutMs: 5000 })
  console.log('close report:', report)
  console.log('stats:', log.stats())

  if (receiver) {
    const total = 4 + batch.accepted
    const stats = await receiver.waitFor(total, 5000).catch(() => receiver.stats())
    await receiver.close()
    console.log(`\nthe receiver decoded ${stats.events} events in ${stats.requests} requests (${stats.acks} acks sent); the first few:`)
    // As `npx fluent-native receive` prints them: bin as hex, integers past 2^53 as strings.
    for (const e of events.filter((e) => e.tag !== 'demo.batch')) console.log(eventLine(e))
    console.log(`... and ${events.filter((e) => e.tag === 'demo.batch').length} demo.batch events`)
    if (stats.events !== total) process.exitCode = 1
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
