/**
 * The floors under a logged request, for bench/service.ts: what one operation costs the main thread
 * when it runs once per event-loop turn (a `setImmediate` chain, as a service handles one request per
 * turn), warm and with the caches cooled first, as a request meets them after the HTTP parser and
 * the socket code ran. Plain JavaScript, no loader (see service-child.mjs).
 *
 *   node bench/service-floor.mjs <sinkPort> <turns> <rounds>
 *
 * Prints one JSON line: { "<op> (warm|cold)": [median ns per turn, one per round] }. Each turn
 * times its op from just before the call to a microtask queued just after it (so anything the op
 * scheduled for the checkpoint is inside; the stage's handover is on a timer, so it is not: the probe
 * carries it), and the figure is the median turn (a preempted turn does
 * not move it). `nothing` is that bracket alone, to subtract. Ops: `promise reaction` (`then` on a settled
 * promise: how the stage queued its handover at every checkpoint before the timer), `napi call` (one Node-API call that does nothing: `queuedBytes` of an id
 * no client has), `push one record` (`pushStaged` of a one-record block to a live client: the native
 * hand-over), `encode` (the encoder writing the access record), `logger.info` and `emit` (the whole
 * logged record to a live client). Cold: 1 MiB written first (more than a core's L2).
 * Then the probe (`probe main: …`, `probe process: …`): CPU per turn of a chain of 5 × `turns` turns
 * each logging one record, everything included (the handover wherever it happens), main thread and
 * whole process, against the same chain of empty turns.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const root = resolve(process.env.FLUENT_NATIVE_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..'))
const [portArg, turnsArg, roundsArg] = process.argv.slice(2)
const TURNS = Number(turnsArg ?? 50_000)
const ROUNDS = Number(roundsArg ?? 3)
const PROBE_TURNS = 5 * TURNS

const binding = require(join(root, 'binding.js'))
const { encodeRecord } = require(join(root, 'src', 'encoder.js'))
const { FluentClient } = require(join(root, 'index.js'))

const BOUND = { service: 'checkout-api', version: '1.4.2', env: 'production', host: 'ip-10-0-3-17', region: 'eu-west-1' }
const fields = (n) => ({
  reqId: n,
  req: { method: 'GET', url: '/api/v1/orders/123?page=2', host: '127.0.0.1', ua: 'service-bench/1 (Linux x86_64)', remoteAddress: '127.0.0.1', remotePort: 40000 + (n & 8191) },
  res: { statusCode: 200, contentLength: 27 },
  responseTime: 0.125 + (n & 7),
})
const whole = (n) => ({ level: 'info', msg: 'request completed', ...BOUND, ...fields(n) })

const noop = () => {}
const settled = Promise.resolve()
const evict = new Uint8Array(1 << 20)
let salt = 0
function cool() {
  salt = (salt + 1) & 0xff
  for (let i = 0; i < evict.length; i += 64) evict[i] = salt
}

// The encoder variants write into the module-wide stage buffer, which is safe only while no client
// has records staged: each of their turns runs after the previous turn's records were handed over.
const client = new FluentClient({ host: '127.0.0.1', port: Number(portArg) })
client.on('error', (e) => process.stderr.write(`floor client error: ${e.code}: ${e.message}\n`))
// The first tag of a fresh client gets id 0 (the frame below uses it).
const logger = client.logger({ tag: 'svc.floor' }).child(BOUND)
const frame = (() => {
  // One staged frame (crates/fluent-forward/src/staging.rs): tag id, length, seconds, NOW, stamp, `{}`.
  const tag = 0
  const b = Buffer.alloc(binding.STAGING_HEADER + 8)
  b.writeUInt32LE(tag, 0)
  b.writeUInt32LE(1, 4)
  b.writeUInt32LE(0, 8)
  b.writeUInt32LE(binding.STAGING_NOW, 12)
  b.writeDoubleLE(0, 16)
  b[binding.STAGING_HEADER] = 0x80
  return b
})()

let nativeId = -1
/** What one turn does, timed: from just before the call to a microtask queued just after it (so
 * whatever the call scheduled for the checkpoint, which runs first, is inside the bracket). */
const ops = {
  nothing: () => {},
  'promise reaction': () => void settled.then(noop),
  'napi call': () => binding.queuedBytes(1_000_000),
  'push one record': () => binding.pushStaged(nativeId, frame, frame.length, performance.now()),
  encode: (n) => encodeRecord(whole(n), binding.STAGING_HEADER, 1 << 20),
  'logger.info': (n) => logger.info('request completed', fields(n)),
  emit: (n) => client.emit('svc.floor', whole(n)),
}

/** Per-turn median ns of `op` (one call per setImmediate turn), caches cooled first with `cold`. */
function runOp(op, turns, cold) {
  const samples = new Float64Array(turns)
  return new Promise((done) => {
    let i = 0
    let t0 = 0
    const record = () => {
      samples[i] = (performance.now() - t0) * 1e6
      if (++i < turns) setImmediate(step)
      else done(samples.sort()[turns >>> 1])
    }
    const step = () => {
      if (cold) cool()
      t0 = performance.now()
      op(i)
      queueMicrotask(record)
    }
    setImmediate(step)
  })
}

function threadCpuNs() {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
}

/**
 * The probe: one call per setImmediate turn for `turns` turns, CPU per turn of the main thread
 * (schedstat) and of the whole process (every thread: our writer too), everything included (the
 * handover wherever it happens). Long runs, since schedstat advances in scheduler ticks.
 */
function probe(op, turns) {
  return new Promise((done) => {
    let i = 0
    const m0 = threadCpuNs()
    const c0 = process.cpuUsage()
    const step = () => {
      op(i)
      if (++i < turns) return setImmediate(step)
      // Let a pending handover run before the clocks are read.
      setTimeout(() => {
        const c = process.cpuUsage(c0)
        done({ main: (threadCpuNs() - m0) / turns, process: ((c.user + c.system) * 1000) / turns })
      }, 20)
    }
    setImmediate(step)
  })
}

async function main() {
  await client.flush()
  // The native id of our client: the one `queuedBytes` knows (ids are small and start at 0).
  for (let i = 0; i < 64; i++) if (binding.queuedBytes(i) >= 0) { nativeId = i; break }
  const names = Object.keys(ops).flatMap((k) => [`${k} (warm)`, `${k} (cold)`])
  // Warm-up: every op until optimised.
  for (const op of Object.values(ops)) await runOp(op, Math.min(5000, TURNS), false)
  const out = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, op] of Object.entries(ops)) {
      out[`${k} (warm)`].push(await runOp(op, TURNS, false))
      out[`${k} (cold)`].push(await runOp(op, TURNS, true))
    }
  }
  const probes = { 'empty turn': ops.nothing, 'logger.info': ops['logger.info'], emit: ops.emit }
  for (const op of Object.values(probes)) await probe(op, Math.min(5000, TURNS))
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, op] of Object.entries(probes)) {
      const got = await probe(op, PROBE_TURNS)
      ;(out[`probe main: ${k}`] ??= []).push(got.main)
      ;(out[`probe process: ${k}`] ??= []).push(got.process)
    }
  }
  await client.close()
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

await main()
