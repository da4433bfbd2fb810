/**
 * The client of the DNS fleet tests, run by `namespace.ts` inside a private mount namespace whose
 * `/etc/hosts` the test rewrites. It emits numbered records without pause (20 every 5 ms, under
 * `requireAck`) and answers the test on stdin, one JSON command a line: `stats` prints
 * `STATS {stats(), connects}`, `close` stops emitting, closes and prints
 * `RESULT {emitted ids, report, stats()}`, then the process exits.
 */
import { FluentClient } from '../../index.js'
import { createInterface } from 'node:readline'
import { writeSync } from 'node:fs'

const options = JSON.parse(process.argv[2]) as Record<string, unknown>
const troubles: string[] = []
process.on('unhandledRejection', (e) => troubles.push(`unhandled rejection: ${String(e)}`))

const client = new FluentClient(options as never)
/** Every address the client connected to, with when (ms since start), in order. */
const connects: Array<[string, number]> = []
const started = performance.now()
client.on('connect', (server) => connects.push([server, Math.round(performance.now() - started)]))
const errors: Record<string, number> = {}
client.on('error', (err) => {
  errors[err.code] = (errors[err.code] ?? 0) + 1
})

let next = 0
let refused = 0
let emitting = true
const timer = setInterval(() => {
  if (!emitting) return
  for (let i = 0; i < 20; i++) {
    if (client.emit('dns.fleet', { n: next, pad: 'x'.repeat(40) })) next++
    else refused++
  }
}, 5)

const say = (what: string, value: unknown) => writeSync(1, `${what} ${JSON.stringify(value)}\n`)

createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { op: string }
  if (cmd.op === 'stats') say('STATS', { stats: client.stats(), connects, errors })
  if (cmd.op === 'close') {
    emitting = false
    clearInterval(timer)
    void client.close({ timeoutMs: 20_000 }).then((report) => {
      say('RESULT', { emitted: next, refused, report, stats: client.stats(), connects, errors, troubles })
      process.exit(0)
    })
  }
})
