// Demo: sends a few events and shows what arrived.
//   npm run demo                         -> starts the bundled Rust receiver (fluent-sink) on loopback
//   FLUENT_HOST=h FLUENT_PORT=p npm run demo -> sends to your fluentd / Fluent Bit instead
'use strict'
const { spawn } = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')
const { FluentClient, EventTime } = require('./index.js')

function startSink() {
  const bin = path.join(__dirname, 'target', 'release', process.platform === 'win32' ? 'fluent-sink.exe' : 'fluent-sink')
  const sink = spawn(bin, ['--print'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: sink.stdout })
  const events = []
  const waiters = []
  let onPort
  const port = new Promise((resolve) => (onPort = resolve))
  lines.on('line', (line) => {
    if (line.startsWith('LISTENING ')) return onPort(Number(line.slice(10)))
    const msg = JSON.parse(line)
    // Keep the receiver's own line for display: JSON.parse would round integers past 2^53.
    if ('tag' in msg) events.push({ tag: msg.tag, line })
    else waiters.shift()?.(msg)
  })
  const ask = (cmd) => new Promise((resolve) => {
    waiters.push(resolve)
    sink.stdin.write(cmd + '\n')
  })
  return { sink, port, events, ask }
}

async function main() {
  const external = process.env.FLUENT_PORT !== undefined
  const local = external ? undefined : startSink()
  const port = external ? Number(process.env.FLUENT_PORT) : await local.port
  const host = process.env.FLUENT_HOST ?? '127.0.0.1'
  console.log(external ? `sending to ${host}:${port}` : `started fluent-sink on 127.0.0.1:${port}`)

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

  if (local) {
    const total = 4 + batch.accepted
    const stats = await local.ask(`wait ${total} 5000`)
    console.log(`\nthe receiver decoded ${stats.events} events in ${stats.requests} requests (${stats.acks} acks sent); the first few:`)
    for (const e of local.events.filter((e) => e.tag !== 'demo.batch')) console.log(e.line)
    console.log(`... and ${local.events.filter((e) => e.tag === 'demo.batch').length} demo.batch events`)
    local.sink.stdin.end()
    if (stats.events !== total) process.exitCode = 1
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
