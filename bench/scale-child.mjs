// One run of bench/scale.ts in its own process (plain JS, so no TypeScript loader is charged to it).
// Config in SCALE_CHILD (JSON): { host, port, tags, clients, events, warmup, cap, outage, loggers }.
// Prints one line `@@SCALE {json}`.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { FluentClient } = require('../index.js')
const cfg = JSON.parse(process.env.SCALE_CHILD)

function mainCpuNs() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return NaN
  }
}
const procCpuNs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) * 1000
}
const rssNow = () => process.memoryUsage.rss()
const make = (i) => ({ level: 'info', msg: 'hello world', n: i, user: 'u123', ok: true })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const rssBefore = rssNow()
const clients = Array.from({ length: cfg.clients }, () => new FluentClient({ host: cfg.host, port: cfg.port, maxBufferBytes: cfg.cap, maxRecordBytes: 64 * 1024 }))
const errors = new Set()
for (const c of clients) c.on('error', (e) => errors.add(e.code))
const tags = Array.from({ length: cfg.tags }, (_, i) => `bench.scale.t${i}`)
// With `loggers`, one root logger per tag and client writes the same record as `make` (level and msg first).
const loggers = cfg.loggers ? clients.map((c) => tags.map((tag) => c.logger({ tag }))) : null

/** Record `i` to client `c` under tag `t`, by `emit` or by that tag's logger; whether it was accepted. */
const offer = (i, c, t) =>
  loggers === null ? clients[c].emit(tags[t], make(i)) : loggers[c][t].info('hello world', { n: i, user: 'u123', ok: true })

let seq = 0
let refused = 0
/** Emits `n` records spread over every client and tag; a refused one is offered again after 1 ms (not under outage). */
async function emitMany(n) {
  const C = cfg.clients
  const T = cfg.tags
  for (let done = 0; done < n; ) {
    const end = Math.min(n, done + 10_000)
    for (; done < end; done++) {
      const i = seq++
      while (!offer(i, i % C, Math.floor(i / C) % T)) {
        refused++
        if (cfg.outage) break
        await sleep(1)
      }
    }
    await new Promise((r) => setImmediate(r))
  }
}

// Warm-up, not measured: every tag of every client is registered and the code is optimised.
await emitMany(cfg.warmup)
if (!cfg.outage) await Promise.all(clients.map((c) => c.flush({ timeoutMs: 60_000 })))
refused = 0
const rssWarm = rssNow()
const m0 = mainCpuNs()
const p0 = procCpuNs()
const w0 = performance.now()
let peakRss = rssNow()
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, rssNow())
}, 20)
await emitMany(cfg.events)
const emittedAt = performance.now()
const mainNs = mainCpuNs() - m0
let reports
if (cfg.outage) {
  peakRss = Math.max(peakRss, rssNow())
  reports = await Promise.all(clients.map((c) => c.close({ timeoutMs: 100 })))
} else {
  reports = await Promise.all(clients.map((c) => c.close({ timeoutMs: 60_000 })))
}
const wallMs = performance.now() - w0
const procNs = procCpuNs() - p0
clearInterval(sampler)
peakRss = Math.max(peakRss, rssNow())
const sum = (k) => reports.reduce((a, r) => a + r[k], 0)
const batches = clients.reduce((a, c) => a + c.stats().batchesSent, 0)
process.stdout.write(
  `@@SCALE ${JSON.stringify({
    ...cfg,
    mainNsPerEvent: mainNs / cfg.events,
    procNsPerEvent: procNs / cfg.events,
    wallMs,
    emitMs: emittedAt - w0,
    eventsPerSec: cfg.events / (wallMs / 1000),
    rssBefore,
    rssWarm,
    peakRss,
    maxRssKiB: process.resourceUsage().maxRSS,
    refused,
    sent: sum('sent'),
    dropped: sum('dropped'),
    pending: sum('pending'),
    batchesSent: batches,
    errors: [...errors],
  })}\n`,
)
