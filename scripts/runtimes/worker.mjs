// The conformance script's Worker: a client inside a node:worker_threads Worker delivers, then
// either closes and posts its close report back, or (`close: false`) leaves the records buffered
// for the Worker's own exit drain: the Worker ends by itself, or (`stay: true`) says 'emitted' and
// stays alive until the parent terminates it.
import { parentPort, workerData } from 'node:worker_threads'
import { FluentClient } from 'fluent-native'

const { port, n, close = true, stay = false } = workerData
const log = new FluentClient({ port, flushIntervalMs: close ? 5 : 60_000, exitFlushTimeoutMs: 10_000 })
for (let i = 0; i < n; i++) log.emit('rt.worker', { i })
if (close) {
  const report = await log.close({ timeoutMs: 20_000 })
  parentPort.postMessage({ sent: report.sent, pending: report.pending })
} else if (stay) {
  log.stats() // hands the staged records over now: the Worker is ended from outside
  parentPort.postMessage('emitted')
  setInterval(() => {}, 1000)
}
