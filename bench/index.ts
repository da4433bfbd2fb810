/**
 * The benchmark driver: `node --import @oxc-node/core/register bench/index.ts` (npm run bench).
 *
 * Starts one fluent-sink, then runs every contender × record shape × phase in its own child process,
 * one at a time, resetting the sink before each and requiring that the sink counted exactly the
 * events the child emitted. Writes results/latest.{json,md} and results/chart.svg and refreshes the
 * generated section of bench/README.md (quick or filtered runs write results/quick.* instead).
 *
 * Environment:
 *   BENCH_EVENTS=N        events per throughput run (default 1,000,000; quick: 100,000)
 *   BENCH_QUICK=1         fewer contenders, shorter paced runs
 *   BENCH_RATE=N          paced rate in events/s (default 200,000)
 *   BENCH_SHAPES=a,b      only these record shapes (small, medium, large)
 *   BENCH_ONLY=id,id      only these contenders (ids in contenders.ts CONTENDERS; `idle` for the reference)
 *   BENCH_BASELINE=dir    another built checkout, run as `native-base` (with BENCH_ONLY=native,native-base:
 *                         two builds compared in one run)
 *   BENCH_PHASES=a,b      throughput and/or paced
 *   BENCH_SINK_THREADS=N  fluent-sink worker threads (default 1)
 *   BENCH_REPEATS=N       runs per contender, shape and phase (default 1), interleaved across the
 *                         contenders; the row keeps every run's loop p99 (paced) or events/s and
 *                         main-thread CPU (throughput) and reports the median run
 *   BENCH_SPIN_NS=small:680,medium:2550  the `spin` contender (only with BENCH_ONLY=...,spin): main-thread
 *                         ns to busy-wait per record, per shape; `auto`: in each round of paced runs,
 *                         what fluent-native's main thread spent per record beyond the build-only run's
 *   BENCH_PIN=1           paced runs with the threads placed (Linux, 2+ CPUs): the child's main thread
 *                         alone on CPU 0; its other threads, the sink and this driver on CPU 1
 *   BENCH_OUT=name        write results/name.{json,md,svg} (default latest, or quick for partial runs)
 *
 * TLS contenders (scenario `tls`) send to a second fluent-sink that listens with TLS (the test
 * certificate in __test__/fixtures/tls); a run with them also writes results/tls.md.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { Packr } from 'msgpackr'

import { SHAPES } from '../src/cli/shapes.js'
import type { Shape } from '../src/cli/shapes.js'
import { epochMs, pidCpuUs, systemBusyUs } from './clocks.ts'
import { BUILD, CONTENDERS, IDLE, SPIN } from './contenders.ts'
import type { ContenderInfo } from './contenders.ts'
import { failures, markdown, ratioTable, svg, tlsMarkdown } from './report.ts'
import type { PacedMetrics, Results, Row, ThroughputMetrics } from './report.ts'
import { Sink } from './sink.ts'
import type { SinkStats } from './sink.ts'
import { compileWorker } from './worker-compile.ts'
import { MARK } from './worker-protocol.ts'
import type { ChildConfig } from './worker-protocol.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const resultsDir = join(benchDir, 'results')

function envInt(name: string, fallback: number): number {
  const v = process.env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v.replace(/_/g, ''))
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${v}`)
  return n
}
function envList(name: string): string[] | undefined {
  const v = process.env[name]
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined
}

const QUICK = process.env.BENCH_QUICK === '1'
const EVENTS = envInt('BENCH_EVENTS', QUICK ? 100_000 : 1_000_000)
const RATE = envInt('BENCH_RATE', 200_000)
const WARMUP_MS = QUICK ? 300 : 500
const MEASURE_MS = envInt('BENCH_PACED_MS', QUICK ? 1000 : 3000)
const CHUNK = 10_000
const SINK_THREADS = envInt('BENCH_SINK_THREADS', 1)
const REPEATS = envInt('BENCH_REPEATS', 1)
const PIN = process.env.BENCH_PIN === '1'
/** Before each run, wait up to this long for other processes to leave the CPUs alone. */
const QUIET_WAIT_MS = envInt('BENCH_QUIET_WAIT_MS', 15_000)
/** ...and no more than this in all, so that a busy machine cannot stretch the run without bound. */
let quietBudgetMs = envInt('BENCH_QUIET_BUDGET_MS', 90_000)
/** CPU (in cores) that other processes may use during a run before the row gets a note. */
const FOREIGN_NOTE = 0.15
/** After a client reports done, the sink gets this long to count everything. */
const DELIVERY_TIMEOUT_MS = 30_000

const shapeFilter = envList('BENCH_SHAPES')
const onlyFilter = envList('BENCH_ONLY')
const phaseFilter = envList('BENCH_PHASES')
const shapes = (Object.keys(SHAPES) as Shape[]).filter((s) => !shapeFilter || shapeFilter.includes(s))
// The CPU stand-in runs only when asked for: it needs the per-record cost to spend (BENCH_SPIN_NS).
const SPIN_AUTO = process.env.BENCH_SPIN_NS === 'auto'
const spinNs: Partial<Record<string, number>> = SPIN_AUTO
  ? {}
  : Object.fromEntries(
      (envList('BENCH_SPIN_NS') ?? []).map((kv) => {
        const [shape, ns] = kv.split(':')
        if (!shape || !(Number(ns) > 0)) throw new Error(`BENCH_SPIN_NS entries are shape:ns, got ${kv}`)
        return [shape, Number(ns)]
      }),
    )
const contenders: ContenderInfo[] = [...CONTENDERS, IDLE, BUILD, ...(onlyFilter?.includes(SPIN.id) ? [SPIN] : [])].filter((c) =>
  // The baseline build (`native-base`) runs only when asked for and given.
  c.id === 'native-base' && !process.env.BENCH_BASELINE ? false : onlyFilter ? onlyFilter.includes(c.id) : !(QUICK && c.full) && c.id !== 'native-base',
)
const phases = (['throughput', 'paced'] as const).filter((p) => !phaseFilter || phaseFilter.includes(p))
const partial =
  QUICK || !!shapeFilter || !!onlyFilter || !!phaseFilter || process.env.BENCH_EVENTS !== undefined || REPEATS > 1 || PIN
const outName = process.env.BENCH_OUT || (partial ? 'quick' : 'latest')
if (PIN && cpus().length < 2) throw new Error('BENCH_PIN=1 needs at least 2 CPUs')
// Throughput children would inherit CPU 1 alone, with the sink: that measures one core, not the client.
if (PIN && phases.includes('throughput')) throw new Error('BENCH_PIN=1 places paced runs only: add BENCH_PHASES=paced')

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`)
}

// The child runs the compiled worker without any loader (see worker.ts).
const workerEntry = compileWorker(benchDir)

/**
 * This machine is shared (other work may be compiling): sample the CPU used by processes other than
 * the sink and this driver, and wait (bounded) until it drops below 0.2 cores.
 */
async function quiet(sink: Sink): Promise<{ waitedMs: number; cores: number }> {
  const t0 = performance.now()
  let cores = NaN
  for (;;) {
    const sys0 = systemBusyUs()
    const sink0 = pidCpuUs(sink.pid)
    const own0 = process.cpuUsage()
    const w0 = performance.now()
    await new Promise((r) => setTimeout(r, 150))
    const own = process.cpuUsage(own0)
    const wallUs = (performance.now() - w0) * 1000
    cores = (systemBusyUs() - sys0 - (pidCpuUs(sink.pid) - sink0) - own.user - own.system) / wallUs
    const waited = performance.now() - t0
    if (!Number.isFinite(cores) || cores < 0.2 || waited > QUIET_WAIT_MS || waited > quietBudgetMs) break
  }
  const waitedMs = performance.now() - t0
  quietBudgetMs = Math.max(0, quietBudgetMs - waitedMs)
  return { waitedMs, cores }
}

interface ChildOutcome {
  result?: Record<string, any>
  error?: string
  /** Sink counters when the delivery wait returned, and after the child exited. */
  delivered?: SinkStats
  final?: SinkStats
  deliveredAt?: number
  expected?: number
  waitMs?: number
}

async function runChild(sink: Sink, cfg: ChildConfig, hardLimitMs: number): Promise<ChildOutcome> {
  await sink.reset()
  const out: ChildOutcome = {}
  const child = spawn(process.execPath, [workerEntry], {
    cwd: benchDir,
    env: { ...process.env, BENCH_CHILD: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  let delivery: Promise<void> = Promise.resolve()
  let chatter = 0
  const passThrough = (line: string): void => {
    if (line.trim() === '' || ++chatter > 20) return
    log(`    | ${line.slice(0, 300)}`)
  }
  createInterface({ input: child.stderr! }).on('line', passThrough)
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith(MARK)) return passThrough(line)
    const msg = JSON.parse(line.slice(MARK.length))
    if (msg.type === 'error') {
      out.error = msg.message
      return
    }
    out.result = msg
    // The client says every record is written (or acknowledged): now the sink must have them all.
    // Records a client sent before the timed phase (`Client.ready`) arrive too.
    const expected = contenders.find((c) => c.id === cfg.contender)?.kind === 'idle' ? 0 : msg.emitted + (msg.warmup ?? 0)
    out.expected = expected
    // A client that says it dropped records cannot deliver them all: a short wait to count what came.
    // fluent-native retries what emit() refused (backpressure), so its refusals are not losses.
    const retried = msg.client?.backpressureWaits !== undefined
    const dropped = retried ? 0 : (msg.client?.report?.dropped ?? 0) + (msg.client?.refused ?? 0)
    out.waitMs = dropped > 0 ? 2000 : DELIVERY_TIMEOUT_MS
    delivery = sink.wait(expected, out.waitMs).then((s) => {
      out.deliveredAt = epochMs()
      out.delivered = s
    })
  })
  const kill = setTimeout(() => {
    out.error = `no result within ${(hardLimitMs / 1000).toFixed(0)} s: killed`
    child.kill('SIGKILL')
  }, hardLimitMs)
  const code = await exited
  clearTimeout(kill)
  await delivery
  if (code !== 0 && !out.error) out.error = `child exited with code ${code}`
  out.final = await sink.stats()
  return out
}

function checkDelivery(out: ChildOutcome): string | undefined {
  if (out.error) return out.error.split('\n')[0]
  if (!out.result || out.expected === undefined) return 'no result'
  const got = out.delivered?.events ?? 0
  const fin = out.final?.events ?? 0
  if (got < out.expected) {
    return `only ${got.toLocaleString('en-US')} of ${out.expected.toLocaleString('en-US')} events arrived within ${(out.waitMs ?? DELIVERY_TIMEOUT_MS) / 1000} s after the client reported done`
  }
  if (fin !== out.expected) {
    return `the sink counted ${fin.toLocaleString('en-US')} events for ${out.expected.toLocaleString('en-US')} emitted`
  }
  if ((out.final?.invalid ?? 0) > 0) return `the sink rejected ${out.final!.invalid} invalid requests`
  return undefined
}

function notesFrom(out: ChildOutcome, info: ContenderInfo): string[] {
  const notes: string[] = []
  const f = out.final
  if (f && f.sizeMismatch > 0) {
    notes.push(`${f.sizeMismatch} of ${f.requests} requests carried a \`size\` option that is not the number of events`)
  }
  if (f && f.errors > 0) notes.push(`the sink reported ${f.errors} connection errors`)
  if (f && f.connections > 1 && info.kind !== 'idle') notes.push(`${f.connections} connections (reconnects?)`)
  const c = out.result?.client
  if (c?.report && (c.report.dropped > 0 || c.report.pending > 0)) {
    // fluent-native counts each refused emit() in its report's `dropped` too (emitted + refused =
    // sent + dropped + ...), and the bench offers each refused record again until it is taken, so
    // there `dropped` can be refused offers only, not records lost: say which.
    const offers = c.backpressureWaits !== undefined && c.report.refused === c.report.dropped
    const what = offers ? ': refused offers, each record offered again (see the delivery check), not losses' : ''
    notes.push(`close() reported dropped ${c.report.dropped}, pending ${c.report.pending}${what}`)
  }
  if (c?.refused > 0) {
    const retried = c.backpressureWaits !== undefined ? `, offered again after ${c.backpressureWaits} 1-ms waits (backpressure)` : ''
    notes.push(`emit() refused ${c.refused} records${retried}`)
  }
  if (c?.errors > 0) notes.push(`client reported ${c.errors} errors ${c.errorCodes ? JSON.stringify(c.errorCodes) : ''}`.trim())
  const unhandled = out.result?.unhandledRejections ?? 0
  if (unhandled > 0) notes.push(`${unhandled} unhandled promise rejections`)
  return notes
}

function throughputMetrics(out: ChildOutcome, failure: string | undefined): ThroughputMetrics {
  const r = out.result ?? {}
  const n = r.emitted ?? EVENTS
  const deliveredMs = out.deliveredAt !== undefined && r.t0 !== undefined ? out.deliveredAt - r.t0 : NaN
  return {
    ok: failure === undefined,
    failure,
    events: n,
    eventsPerSec: (n * 1000) / deliveredMs,
    mainCpuUsPerEvent: r.mainCpuUs / n,
    procCpuUsPerEvent: r.procCpuUs / n,
    peakRssMB: r.maxRssKiB / 1024,
    wireBytesPerEvent: (out.final?.bytes ?? NaN) / n,
    requests: out.final?.requests ?? NaN,
    emitMs: r.emitMs,
    deliveredMs,
    elu: r.elu,
    mainCpuSource: r.mainCpuSource,
    sinkCores: r.sinkCores,
    foreignCores: r.foreignCores,
  }
}

/**
 * With repeats, the run whose loop p99 is the median (the lower middle one for an even count) stands
 * for the row, and the row keeps every run's p99. A failed run stands for the row: it must be seen.
 */
function medianRun(runs: PacedMetrics[]): PacedMetrics {
  const every = {
    loopP99Runs: runs.map((r) => r.loopP99Ms),
    ...(runs[0]!.spinNs !== undefined ? { spinNsRuns: runs.map((r) => r.spinNs ?? NaN) } : {}),
  }
  return { ...standIn(runs, (r) => r.loopP99Ms), ...(runs.length > 1 ? every : {}) }
}

/** The throughput run with the median events/s stands for the row (a failed one, if any: it must be seen). */
function medianThroughput(runs: ThroughputMetrics[]): ThroughputMetrics {
  const run = standIn(runs, (r) => r.eventsPerSec)
  if (!run.ok || runs.length === 1) return run
  return { ...run, eventsPerSecRuns: runs.map((r) => r.eventsPerSec), mainCpuRuns: runs.map((r) => r.mainCpuUsPerEvent) }
}

/** The run that stands for repeated runs: the first failed one, else the median by `by` (the lower middle one for an even count). */
function standIn<T extends { ok: boolean }>(runs: T[], by: (r: T) => number): T {
  const failed = runs.find((r) => !r.ok)
  if (failed) return failed
  return [...runs].sort((a, b) => by(a) - by(b))[(runs.length - 1) >> 1]!
}

/**
 * BENCH_SPIN_NS=auto: the stand-in spends, per record, the main-thread CPU by which this round's
 * fluent-native run exceeded this round's build-only run (both run before it in every round).
 */
function autoSpin(pacedRuns: PacedMetrics[][], rep: number): number {
  const run = (id: string): PacedMetrics | undefined => pacedRuns[contenders.findIndex((c) => c.id === id)]?.[rep]
  const native = run('native')
  const build = run('build')
  if (!native?.ok || !build?.ok) throw new Error('BENCH_SPIN_NS=auto needs ok native and build paced runs before spin in each round')
  return Math.max(1, Math.round(((native.mainBusy - build.mainBusy) * 1e9) / native.achievedRate))
}

function pacedMetrics(out: ChildOutcome, failure: string | undefined): PacedMetrics {
  const r = out.result ?? {}
  return {
    ok: failure === undefined,
    failure,
    targetRate: RATE,
    achievedRate: r.achievedRate,
    loopP50Ms: r.loopP50Ms,
    loopP99Ms: r.loopP99Ms,
    loopMaxMs: r.loopMaxMs,
    mainBusy: r.mainBusy,
    elu: r.elu,
    procCpu: r.procCpu,
    rssMB: r.maxRssKiB / 1024,
    mainCpuSource: r.mainCpuSource,
    sinkCores: r.sinkCores,
    foreignCores: r.foreignCores,
    pinned: r.pinned,
    ...(r.pinError ? { pinError: r.pinError } : {}),
    ...(r.client?.spinNs ? { spinNs: r.client.spinNs } : {}),
  }
}

function shapeSizes(): Results['shapes'] {
  const packr = new Packr({ useRecords: false })
  const out: Results['shapes'] = {}
  for (const s of shapes) {
    const rec = SHAPES[s](123456)
    out[s] = { jsonBytes: Buffer.byteLength(JSON.stringify(rec)), msgpackBytes: packr.pack(rec).length }
  }
  return out
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    // bench/results is left out: a perf.ts run rewrites it between its steps.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!bench/results'], { cwd: root, encoding: 'utf8' }).trim()
    return dirty ? `${head} (with uncommitted changes)` : head
  } catch {
    return 'unknown'
  }
}

/** When the measured build was made: index.js and the addon are not tracked by git. */
function build(): { indexJs: string; addon: string; staleJs: boolean } {
  const mtime = (f: string): Date | undefined => {
    try {
      return statSync(join(root, f)).mtime
    } catch {
      return undefined
    }
  }
  const js = mtime('index.js')
  const ts = mtime('index.ts')
  const addon = readdirSync(root).find((f) => f.endsWith('.node'))
  const node = addon ? mtime(addon) : undefined
  return {
    indexJs: js?.toISOString() ?? 'missing',
    addon: node?.toISOString() ?? 'missing',
    staleJs: !!(js && ts && ts > js),
  }
}

const fmt = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '–')

async function main(): Promise<void> {
  const started = Date.now()
  const built = build()
  if (built.staleJs) log('warning: index.ts is newer than index.js: run `npm run build` to measure the current code')
  const sink = await Sink.start(root, SINK_THREADS)
  const fixtures = join(root, '__test__', 'fixtures', 'tls')
  const tlsSink = contenders.some((c) => c.scenario === 'tls')
    ? await Sink.start(root, SINK_THREADS, { cert: join(fixtures, 'server.pem'), key: join(fixtures, 'server.key') })
    : undefined
  if (PIN) {
    // The driver first: children inherit its CPU 1, and each child moves only its main thread to CPU 0.
    for (const pid of [process.pid, sink.pid, ...(tlsSink ? [tlsSink.pid] : [])]) {
      execFileSync('taskset', ['-a', '-p', '-c', '1', String(pid)], { stdio: 'ignore' })
    }
  }
  log(
    `fluent-sink on port ${sink.port}; ${shapes.length} shapes × ${contenders.length} contenders × ${phases.join('+')}; ` +
      `${EVENTS.toLocaleString('en-US')} events per throughput run${QUICK ? ' (quick)' : ''}`,
  )
  const rows: Row[] = []
  const runsOf = (rep: number, c: ContenderInfo): Array<(typeof phases)[number]> =>
    phases.filter((p) => p === 'paced' || c.kind !== 'idle')
  let total = 0
  for (let rep = 0; rep < REPEATS; rep++) for (const c of contenders) total += shapes.length * runsOf(rep, c).length
  let step = 0
  try {
    for (const shape of shapes) {
      const shapeRows = contenders.map(
        (info): Row => ({
          shape,
          id: info.id,
          label: info.label,
          short: info.short,
          scenario: info.scenario,
          kind: info.kind,
          throughput: null,
          paced: null,
          notes: [],
        }),
      )
      const pacedRuns: PacedMetrics[][] = contenders.map(() => [])
      const throughputRuns: ThroughputMetrics[][] = contenders.map(() => [])
      // Repeats go round the contenders, so that a slow spell of the machine touches all of them.
      for (let rep = 0; rep < REPEATS; rep++) for (const [k, info] of contenders.entries()) {
        const row = shapeRows[k]!
        const target = info.scenario === 'tls' ? tlsSink! : sink
        for (const phase of runsOf(rep, info)) {
          step++
          const cfg: ChildConfig = {
            contender: info.id,
            shape,
            phase,
            host: '127.0.0.1',
            port: target.port,
            benchDir,
            sinkPid: target.pid,
            events: EVENTS,
            chunk: CHUNK,
            rate: RATE,
            warmupMs: WARMUP_MS,
            measureMs: MEASURE_MS,
            pin: PIN,
            ...(info.id === SPIN.id ? { spinNs: SPIN_AUTO ? autoSpin(pacedRuns, rep) : spinNs[shape] } : {}),
          }
          const limit = phase === 'throughput' ? 60_000 + EVENTS * 0.2 : 60_000 + WARMUP_MS + MEASURE_MS
          const calm = await quiet(target)
          if (calm.cores >= 0.2) row.notes.push(`${phase}: started while other processes used ${calm.cores.toFixed(2)} cores`)
          const out = await runChild(target, cfg, limit)
          const fc = out.result?.foreignCores
          if (fc > FOREIGN_NOTE) row.notes.push(`${phase}: other processes used ${fc.toFixed(2)} cores during the measurement`)
          const failure = checkDelivery(out)
          for (const n of notesFrom(out, info)) if (!row.notes.includes(`${phase}: ${n}`)) row.notes.push(`${phase}: ${n}`)
          const head = `[${step}/${total}] ${shape} ${info.id} ${phase}`
          if (phase === 'throughput') {
            const t = throughputMetrics(out, failure)
            throughputRuns[k]!.push(t)
            row.throughput = medianThroughput(throughputRuns[k]!)
            log(
              `${head}: ${failure ? `FAILED (${failure}) ` : ''}${fmt(t.eventsPerSec / 1e3, 0)} k ev/s, main ${fmt(t.mainCpuUsPerEvent)} us/ev, ` +
                `process ${fmt(t.procCpuUsPerEvent)} us/ev, peak RSS ${fmt(t.peakRssMB, 0)} MB`,
            )
          } else {
            const p = pacedMetrics(out, failure)
            pacedRuns[k]!.push(p)
            row.paced = medianRun(pacedRuns[k]!)
            log(
              `${head}: ${failure ? `FAILED (${failure}) ` : ''}${fmt(p.achievedRate / 1e3, 0)} k ev/s achieved, main busy ${fmt(p.mainBusy * 100, 0)} %, ` +
                `loop p99 ${fmt(p.loopP99Ms)} ms (max ${fmt(p.loopMaxMs)})`,
            )
          }
          for (const n of row.notes) if (n.startsWith(phase)) log(`    note: ${n}`)
          // Let the sink finish closing the connection and the machine settle.
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      rows.push(...shapeRows)
    }
  } finally {
    await sink.stop()
    await tlsSink?.stop()
  }

  const cpuList = cpus()
  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      node: process.versions.node,
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      events: EVENTS,
      rate: RATE,
      pacedMs: MEASURE_MS,
      quick: QUICK,
      sinkThreads: SINK_THREADS,
      repeats: REPEATS,
      pin: PIN,
      commit: commit(),
      build: built,
      durationS: (Date.now() - started) / 1000,
    },
    shapes: shapeSizes(),
    rows,
  }
  mkdirSync(resultsDir, { recursive: true })
  const base = outName
  const md = markdown(results)
  writeFileSync(join(resultsDir, `${base}.json`), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(resultsDir, `${base}.md`), md)
  const chart = base === 'latest' ? 'chart.svg' : `${base}.svg`
  writeFileSync(join(resultsDir, chart), svg(results))
  if (!partial) updateReadme(results)
  const hasTls = rows.some((r) => r.scenario === 'tls')
  if (hasTls) writeFileSync(join(resultsDir, 'tls.md'), tlsMarkdown(results))
  process.stdout.write(md)
  log(
    `\nwrote bench/results/${base}.json, ${base}.md, ${chart}${hasTls ? ', tls.md' : ''} in ${results.meta.durationS.toFixed(0)} s`,
  )
}

/** Replaces the generated block of bench/README.md with this run's ratios. */
function updateReadme(results: Results): void {
  const file = join(benchDir, 'README.md')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return
  }
  const start = '<!-- bench:results:start -->'
  const end = '<!-- bench:results:end -->'
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  if (i < 0 || j < i) return
  const m = results.meta
  const block = [
    start,
    '',
    `Last full run: ${m.date.slice(0, 10)}, Node ${m.node}, ${m.cpus} × ${m.cpuModel}, commit ${m.commit}. ` +
      `fluent-native against the best published JS client of the same scenario (× better; > 1 means fluent-native wins). ` +
      'All numbers: [results/latest.md](results/latest.md).',
    '',
    ratioTable(results),
    '',
    ...(failures(results).length
      ? ['Runs that did not deliver every record (left out of the ratios; details in results/latest.md):', '', ...failures(results), '']
      : []),
    '![benchmark chart](results/chart.svg)',
    '',
    end,
  ].join('\n')
  writeFileSync(file, text.slice(0, i) + block + text.slice(j + end.length))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
