// One run of bench/spool.ts in its own process (plain JS: no TypeScript loader is charged to it).
// Config in SPOOL_CHILD (JSON): { mode, port, shape, events?, targetBytes?, expected?, spool }.
// Prints one line `@@SPOOL {json}`.
//   mode 'throughput': emits `events` records as fast as the client takes them, closes, reports CPU
//   mode 'fill':       the server is down: emits until the spool holds `targetBytes`, closes at
//                      once (the backlog stays on disk), reports records and bytes
//   mode 'replay':     opens the spool dir left by 'fill' with the sink up, waits until `expected`
//                      records are sent, closes, reports CPU
import { readFileSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { FluentClient } = require('../index.js')
const cfg = JSON.parse(process.env.SPOOL_CHILD)

// The record shapes of the CLI's `bench` (src/cli/shapes.ts), which every bench uses.
const { SHAPES: MAKERS } = require('../src/cli/shapes.js')

const say = (obj) => writeSync(1, `@@SPOOL ${JSON.stringify(obj)}\n`)
const epochMs = () => performance.timeOrigin + performance.now()
const turn = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** The main thread's own CPU time (its tid is the pid), in µs. */
const mainCpuUs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000
const procCpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

function client(extra = {}) {
  const c = new FluentClient({ port: cfg.port, exitFlushTimeoutMs: 0, ...(cfg.spool ? { spool: cfg.spool } : {}), ...extra })
  c.on('error', (e) => {
    if (cfg.mode !== 'fill' || e.code !== 'ERR_FLUENT_CONNECT') process.stderr.write(`client error ${e.code}: ${e.message}\n`)
  })
  return c
}

async function throughput() {
  const make = MAKERS[cfg.shape]
  const c = client()
  // One record first, so the connection is up before the clock starts (the sink counts it: N + 1).
  c.emit('warm', { up: true })
  await c.flush({ timeoutMs: 30_000 })
  const t0 = epochMs()
  const cpu0 = procCpuUs()
  const main0 = mainCpuUs()
  // The main thread's CPU inside the emit loops alone: what logging costs the app per record,
  // without the waits below (a slower drain means more polling, which is the bench's, not emit's).
  let emitOnlyUs = 0
  for (let i = 0; i < cfg.events; ) {
    const end = Math.min(cfg.events, i + 10_000)
    const before = mainCpuUs()
    for (; i < end; i++) if (!c.emit('bench.spool', make(i))) throw new Error(`record ${i} refused`)
    emitOnlyUs += mainCpuUs() - before
    await turn()
    // The same bound for every contender, so none refuses: at most 32 MiB waiting.
    while (c.stats().queuedBytes > 32 << 20) await sleep(1)
  }
  const emitted = epochMs()
  const mainEmit = mainCpuUs() - main0
  const report = await c.close({ timeoutMs: 600_000 })
  say({ t0, emitted, done: epochMs(), procCpuUs: procCpuUs() - cpu0, mainCpuUs: mainCpuUs() - main0, mainEmitCpuUs: mainEmit, emitOnlyUs, report, rssMB: process.resourceUsage().maxRSS / 1024 })
}

async function fill() {
  const make = MAKERS[cfg.shape]
  const c = client({ requireAck: true })
  const t0 = epochMs()
  let n = 0
  let retries = 0
  while ((c.stats().spool?.bytes ?? 0) < cfg.targetBytes) {
    for (let k = 0; k < 5000; k++) {
      if (c.emit('bench.spool', make(n))) n++
      else {
        retries++
        await sleep(1)
      }
    }
    await turn()
  }
  // Everything accepted is sealed and on disk before the close leaves it there.
  while (c.stats().spool.records < n) await sleep(5)
  const spool = c.stats().spool
  const report = await c.close({ timeoutMs: 0 })
  say({ records: n, retries, ms: epochMs() - t0, spool, report })
}

async function replay() {
  const t0 = epochMs()
  const cpu0 = procCpuUs()
  const main0 = mainCpuUs()
  const c = client()
  while (c.stats().sent < cfg.expected) await sleep(2)
  const sentAt = epochMs()
  const report = await c.close({ timeoutMs: 60_000 })
  say({ t0, sentAt, procCpuUs: procCpuUs() - cpu0, mainCpuUs: mainCpuUs() - main0, report, spool: c.stats().spool })
}

if (cfg.mode === 'throughput') await throughput()
else if (cfg.mode === 'fill') await fill()
else if (cfg.mode === 'replay') await replay()
else throw new Error(`unknown mode ${cfg.mode}`)
