// The conformance script's exit-drain child: emits records and never closes the client. With
// `end` the program simply runs out of work; with `exit` it calls process.exit() at once. Either
// way the exit drain must deliver every record (the parent's server counts them). With `dead`
// (`port` is one nothing listens on) the drain gives up at its deadline: with `listen` the 'error'
// listener gets ERR_FLUENT_UNDELIVERED inside 'exit' and prints it, without one a warning is printed.
import { writeSync } from 'node:fs'
import { FluentClient } from 'fluent-native'

const [port, how, count, listen] = process.argv.slice(2)
const n = Number(count)
// A long flush interval: the records are still buffered when the program ends.
const log = new FluentClient({
  port: Number(port),
  flushIntervalMs: 60_000,
  exitFlushTimeoutMs: how === 'dead' ? 300 : 10_000,
  connectTimeoutMs: 200,
})
if (listen === 'listen') {
  let undelivered = 0
  log.on('error', (e) => {
    if (e.code !== 'ERR_FLUENT_UNDELIVERED') return
    undelivered += e.records
    // Synchronously: inside 'exit' no later tick comes.
    writeSync(1, `undelivered ${undelivered}\n`)
  })
} else if (how !== 'dead') {
  log.on('error', (e) => console.error('client error', e.code, e.message))
}
for (let i = 0; i < n; i++) log.emit('rt.exit', { i })
console.log(`emitted ${n}`)
if (how === 'exit') process.exit(0)
