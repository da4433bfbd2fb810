/**
 * Cost as the work grows (issue 11, item 4): main-thread and whole-process CPU per record, and
 * memory, from 1 to 10,000 distinct tags and from 1 to 50 clients in one process.
 *
 *   npm run build:sink && node --import @oxc-node/core/register bench/scale.ts
 *
 * Each configuration runs SCALE_REPEATS times (rounds of every configuration in turn), each in a fresh process (bench/scale-child.mjs, plain
 * JS: no loader charged to it), one at a time, against one fluent-sink that must count every record.
 * A run emits SCALE_EVENTS small records spread round-robin over its clients and tags (after a
 * warm-up that registers every tag of every client), then closes its clients:
 *   - main-thread CPU per record (schedstat) while emitting;
 *   - process CPU per record (`process.cpuUsage()`, every thread: the writer threads' framing and
 *     writes included) from the first emit until every client has closed;
 *   - peak RSS above the process's RSS before it made its clients.
 * Outage runs (nothing listening, a cap of SCALE_OUTAGE_CAP bytes, default 2 MiB, per client; records
 * up to 64 KiB) emit past the cap and
 * show that memory stays within the caps plus a constant however many tags or clients there are.
 * Figures are medians over the repeats; ratios are against the 1-tag, 1-client configuration of the
 * same run. Writes results/scale.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Sink } from './sink.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const REPEATS = Number(process.env.SCALE_REPEATS ?? 3)
const EVENTS = Number(process.env.SCALE_EVENTS ?? 500_000)
const OUTAGE_CAP = Number(process.env.SCALE_OUTAGE_CAP ?? 2 << 20)
const MiB = 1024 * 1024

interface Config {
  name: string
  tags: number
  clients: number
  outage: boolean
  /** Records written by `logger.info` (one root logger per tag and client) instead of `emit`; the same record. */
  loggers?: boolean
}

const CONFIGS: Config[] = [
  { name: '1 tag, 1 client', tags: 1, clients: 1, outage: false },
  { name: '100 tags', tags: 100, clients: 1, outage: false },
  { name: '10,000 tags', tags: 10_000, clients: 1, outage: false },
  { name: 'logger, 1 tag', tags: 1, clients: 1, outage: false, loggers: true },
  { name: 'logger per tag, 10,000 tags', tags: 10_000, clients: 1, outage: false, loggers: true },
  { name: '10 clients', tags: 1, clients: 10, outage: false },
  { name: '50 clients', tags: 1, clients: 50, outage: false },
  { name: 'outage: 1 tag, 1 client', tags: 1, clients: 1, outage: true },
  { name: 'outage: 10,000 tags', tags: 10_000, clients: 1, outage: true },
  { name: 'outage: 50 clients', tags: 1, clients: 50, outage: true },
]

type Result = Record<string, any>

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

function runChild(cfg: object): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(benchDir, 'scale-child.mjs')], {
      cwd: benchDir,
      env: { ...process.env, SCALE_CHILD: JSON.stringify(cfg) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout!.on('data', (d) => (out += String(d)))
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@SCALE '))
      if (code !== 0 || !line) reject(new Error(`scale child exited ${code}: ${out.slice(-500)}`))
      else resolve(JSON.parse(line.slice(8)))
    })
  })
}

async function main(): Promise<void> {
  const sink = await Sink.start(root, 1)
  const runs = new Map<string, Result[]>()
  const failures: string[] = []
  for (let r = 0; r < REPEATS; r++) {
    for (const c of CONFIGS) {
      await sink.reset()
      const warmup = Math.max(20_000, 2 * c.tags * c.clients)
      const events = c.outage ? EVENTS * 6 : EVENTS
      const cfg = { host: '127.0.0.1', port: c.outage ? 9 : sink.port, tags: c.tags, clients: c.clients, events, warmup, cap: c.outage ? OUTAGE_CAP : 64 * MiB, outage: c.outage, loggers: c.loggers === true }
      const res = await runChild(cfg)
      if (!c.outage) {
        const want = warmup + events
        const got = await sink.wait(want, 30_000)
        res.delivered = got.events
        if (got.events !== want || res.pending !== 0) failures.push(`${c.name} run ${r + 1}: sink counted ${got.events} of ${want}, pending ${res.pending}`)
      }
      runs.set(c.name, [...(runs.get(c.name) ?? []), res])
      console.error(`${c.name} (run ${r + 1}/${REPEATS}): main ${res.mainNsPerEvent.toFixed(0)} ns, process ${res.procNsPerEvent.toFixed(0)} ns, peak RSS +${((res.peakRss - res.rssBefore) / MiB).toFixed(1)} MiB`)
    }
  }
  await sink.stop()

  const med = (name: string, f: (r: Result) => number): number => median(runs.get(name)!.map(f))
  // Logger rows are compared with the one-logger row, the others with 1 tag, 1 client.
  const loggerBase = CONFIGS.find((c) => c.loggers)!.name
  const baseOf = (c: Config): string => (c.loggers ? loggerBase : CONFIGS[0].name)
  // Ratios pair each run with the base configuration's run of the same round (the machine drifts
  // between rounds more than between neighbouring runs), and the table gives their median.
  const paired = (c: Config, f: (r: Result) => number): number[] => {
    const base = runs.get(baseOf(c))!
    return runs.get(c.name)!.map((r, i) => f(r) / f(base[i]))
  }
  const rows = CONFIGS.map((c) => {
    const main = med(c.name, (r) => r.mainNsPerEvent)
    const proc = med(c.name, (r) => r.procNsPerEvent)
    const rss = med(c.name, (r) => (r.peakRss - r.rssBefore) / MiB)
    const caps = ((c.outage ? OUTAGE_CAP : 64 * MiB) * c.clients) / MiB
    const eps = med(c.name, (r) => r.eventsPerSec)
    const ratio = (f: (r: Result) => number): string => {
      if (c.outage) return ''
      const each = paired(c, f)
      return `${median(each).toFixed(2)}× (${each.map((x) => x.toFixed(2)).join(', ')})`
    }
    return `| ${c.name} | ${main.toFixed(0)} | ${ratio((r) => r.mainNsPerEvent)} | ${proc.toFixed(0)} | ${ratio((r) => r.procNsPerEvent)} | ${c.outage ? '' : Math.round(eps).toLocaleString('en-US')} | ${rss.toFixed(1)} | ${caps.toFixed(0)} | ${c.outage ? Math.round(med(c.name, (r) => r.refused)).toLocaleString('en-US') : ''} | ${c.outage ? '' : Math.round(med(c.name, (r) => (r.warmup + r.events) / Math.max(1, r.batchesSent))).toLocaleString('en-US')} |`
  })
  const md = [
    '# Scale: cost per record from 1 to 10,000 tags and 1 to 50 clients',
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ` +
      `${REPEATS} rounds of every configuration, each run in a fresh process; ns figures are medians, and the ratios the median of each round's run against the base configuration's run in the same round (every round's in brackets). ${EVENTS.toLocaleString('en-US')} small records per run ` +
      `(outage runs: ${(EVENTS * 6).toLocaleString('en-US')} against a port nothing listens on, cap ${OUTAGE_CAP / MiB} MiB per client), spread round-robin ` +
      'over the clients and tags, after a warm-up that registers every tag. The logger rows write the same record with `logger.info(msg, fields)`, ' +
      'one root logger per tag (made before the warm-up), and are compared with the one-logger row. Command: `node --import @oxc-node/core/register bench/scale.ts`.',
    '',
    '| configuration | main-thread ns/record | vs 1 tag, 1 client (logger rows: vs 1 logger), per round | process ns/record | vs 1 tag, 1 client (logger rows: vs 1 logger), per round | delivered records/s | peak RSS above start, MiB | caps, MiB (clients × cap) | refused (cap full) | records per message sent |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    failures.length ? `**Delivery failures:** ${failures.join('; ')}` : 'Every record of every non-outage run was counted by the sink.',
    '',
  ].join('\n')
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  writeFileSync(join(benchDir, 'results', 'scale.json'), `${JSON.stringify(Object.fromEntries(runs), null, 2)}\n`)
  writeFileSync(join(benchDir, 'results', 'scale.md'), md)
  process.stdout.write(`\n${md}`)
  if (failures.length) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
