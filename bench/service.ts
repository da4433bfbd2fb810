/**
 * What a service pays per logged request (issue 28), in one run:
 *
 *   npm run bench:service      # builds fluent-sink, then node --import @oxc-node/core/register bench/service.ts
 *
 * A plain node:http service (service-child.mjs) answers every request and logs one access record per
 * `/log` request through one contender: the fluent-native logger (a child with bound fields),
 * fluent-native `emit` of the whole record, pino through fluent-native's `destination()` and through
 * its transport (`fluent-native/pino` in pino's worker), pino to /dev/null (sync writes, the floor
 * of any pino route) and @fluent-org/logger in Forward mode (its fastest); `none` logs nothing on
 * either kind of request (its two kinds measure the method's own noise), `build` only builds the
 * record's fields (what every logger pays before it runs). This process loads each service
 * (loadgen.ts) at a fixed rate, then to saturation, alternating phases of plain and `/log` requests
 * (SERVICE_PHASE_MS, 250 ms each): what logging adds is the difference between the two kinds in the
 * same process, phases a fraction of a second apart, so the load of other processes on this shared
 * machine, which moves whole runs by several µs per request, falls on both alike. Every record goes
 * to one `fluent-sink`, which must count every record the service logged (else the run is marked
 * FAILED and left out).
 *
 * Placements: `pinned`, the service and all its threads on CPU 0 (a 1-CPU pod), this process (the
 * load generator) and the sink on CPU 1 (taskset); `unpinned`, nobody pinned. Rounds interleave the
 * contenders (a fresh service process per contender and round); every figure is the median over
 * rounds:
 *   - CPU per request: the scheduler's account of every thread of the service (our writer, pino's
 *     worker, V8's helpers) and of its main thread over each kind's phases, divided by the requests
 *     answered in them (loadgen.ts says why schedstat rather than /proc/<pid>/stat's 10 ms ticks);
 *   - p99 latency of each kind's requests (from the write to the last byte back);
 *   - requests/s at saturation, each kind.
 * The floors (service-floor.mjs) run in the same rounds, placed as the service is. Writes
 * results/service.{md,json} and ../docs/service.svg.
 *
 * Before each run the driver waits (SERVICE_QUIET_MS, 10 s at most; SERVICE_QUIET_BUDGET_MS, 120 s in
 * all) for other processes to leave the CPUs mostly alone, and each window records the cores they
 * used meanwhile ("other load").
 *
 * Environment: SERVICE_ROUNDS (3), SERVICE_RATE (8000 requests/s), SERVICE_SECONDS (3: the fixed-rate
 * phases in all), SERVICE_SAT_SECONDS (2), SERVICE_PHASE_MS (250), SERVICE_WARM_MS (1000), SERVICE_CONNS (32), SERVICE_ONLY=id,id,
 * SERVICE_PLACEMENTS=pinned,unpinned, SERVICE_FLOOR_TURNS (20000; 0 skips the floors), SERVICE_REPORT_ONLY=1
 * (rewrite the markdown and the chart from the last results/service.json),
 * SERVICE_BASELINE=<dir of another built checkout> adds `ab-logger` / `ab-emit` / `ab-pino-destination`: one service with both
 * builds loaded, the plain requests logged through the baseline's and the `/log` ones through this
 * checkout's, so its "extra" is this build minus the baseline, paired phase by phase (and, when named
 * in SERVICE_ONLY, `native-logger@base` / `native-emit@base`: the baseline's own services).
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { Load, quiet, sleep } from './loadgen.ts'
import type { Pair } from './loadgen.ts'
import { Sink } from './sink.ts'
import { CONTENDERS, report } from './service-report.ts'
import type { Placement, Run, FloorRun } from './service-report.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const ROUNDS = Number(process.env.SERVICE_ROUNDS ?? 3)
const RATE = Number(process.env.SERVICE_RATE ?? 8000)
const SECONDS = Number(process.env.SERVICE_SECONDS ?? 3)
const SAT_SECONDS = Number(process.env.SERVICE_SAT_SECONDS ?? 2)
const WARM_MS = Number(process.env.SERVICE_WARM_MS ?? 1000)
const CONNS = Number(process.env.SERVICE_CONNS ?? 32)
const FLOOR_TURNS = Number(process.env.SERVICE_FLOOR_TURNS ?? 20_000)
const BASELINE = process.env.SERVICE_BASELINE
const only = process.env.SERVICE_ONLY?.split(',')
const placements = (process.env.SERVICE_PLACEMENTS ?? 'pinned,unpinned').split(',') as Placement[]
const ALL_CPUS = `0-${cpus().length - 1}`

/** Sets the CPU affinity of every thread of `pid`. */
function pin(pid: number, list: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: 'ignore' })
}

function lines(proc: ChildProcess): () => Promise<string> {
  const queue: string[] = []
  const waiters: Array<(l: string) => void> = []
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const w = waiters.shift()
    if (w) w(l)
    else queue.push(l)
  })
  return () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve)))
}

function spawnPlaced(placement: Placement, script: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const node = [join(benchDir, script), ...args]
  const [cmd, argv] = placement === 'pinned' ? ['taskset', ['-c', '0', process.execPath, ...node]] : [process.execPath, node]
  return spawn(cmd, argv, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env })
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(t)
  }
}

/** Contenders that send nothing anywhere (so there is nothing to count at the sink). */
const UNDELIVERED = new Set(['none', 'build', 'pino-devnull', 'pino-noop', 'floor-encode', 'floor-stringify', 'floor-napi', 'floor-then'])

/** Waiting for a quiet machine: at most this long before each run, and this much in all. */
const QUIET_MS = Number(process.env.SERVICE_QUIET_MS ?? 10_000)
let quietBudget = Number(process.env.SERVICE_QUIET_BUDGET_MS ?? 120_000)

async function runService(id: string, placement: Placement, round: number, sink: Sink): Promise<Run> {
  await sink.reset()
  if (quietBudget > 0) {
    const t0 = Date.now()
    await quiet([sink.pid], Math.min(QUIET_MS, quietBudget))
    quietBudget -= Date.now() - t0
  }
  const base = id.endsWith('@base')
  const env = base ? { ...process.env, FLUENT_NATIVE_DIR: BASELINE } : { ...process.env, FLUENT_NATIVE_BASELINE: BASELINE ?? '' }
  const proc = spawnPlaced(placement, 'service-child.mjs', [id.replace('@base', ''), String(sink.port)], env)
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const next = lines(proc)
  const run: Run = { id, placement, round, fixed: undefined, saturated: undefined, logged: 0, delivered: 0, failure: undefined }
  let gen: Load | undefined
  try {
    const ready = await within(next(), 20_000, `${id} start`)
    const m = /^READY (\d+)$/.exec(ready)
    if (!m) throw new Error(`${id}: unexpected first line ${ready}`)
    gen = new Load(Number(m[1]), proc.pid!, [sink.pid])
    await gen.open(CONNS)
    run.fixed = await gen.fixed(RATE, WARM_MS, SECONDS * 1000)
    run.saturated = await gen.saturate(500, SAT_SECONDS * 1000)
    proc.stdin!.write('count\n')
    const count = /^COUNT (\d+)$/.exec(await within(next(), 10_000, `${id} count`))
    run.logged = Number(count?.[1] ?? NaN)
    const errors = run.fixed.logged.errors + run.saturated.logged.errors
    if (errors > 0) run.failure = `${errors} request(s) failed or were cut short`
    if (!UNDELIVERED.has(id)) {
      const s = await sink.wait(run.logged, 30_000)
      run.delivered = s.events
      if (s.events !== run.logged) run.failure ??= `${s.events} of ${run.logged} records arrived within 30 s`
    } else {
      run.delivered = run.logged
    }
  } catch (e) {
    run.failure = `${(e as Error).message}${stderr ? `; stderr: ${stderr.slice(-400)}` : ''}`
  } finally {
    gen?.close()
    const gone = new Promise<void>((resolve) => (proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve())))
    proc.stdin!.end('quit\n')
    const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000)
    await gone
    clearTimeout(kill)
  }
  // Duplicates would show up after the exit drain.
  if (!UNDELIVERED.has(id) && run.failure === undefined) {
    await sleep(100)
    const s = await sink.stats()
    if (s.events !== run.logged) run.failure = `${s.events} records counted after exit, ${run.logged} logged`
  }
  if (stderr.trim() !== '' && run.failure === undefined) run.note = stderr.trim().split('\n').slice(-2).join(' | ')
  return run
}

async function runFloors(placement: Placement, round: number, sink: Sink): Promise<FloorRun | undefined> {
  if (FLOOR_TURNS <= 0) return undefined
  await sink.reset()
  const proc = spawnPlaced(placement, 'service-floor.mjs', [String(sink.port), String(FLOOR_TURNS), '1'])
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const next = lines(proc)
  try {
    const line = await within(next(), 300_000, 'floors')
    const got = JSON.parse(line) as Record<string, number[]>
    return { placement, round, ns: Object.fromEntries(Object.entries(got).map(([k, v]) => [k, v[0]])) }
  } catch (e) {
    process.stderr.write(`floors failed: ${(e as Error).message} ${stderr}\n`)
    return undefined
  } finally {
    if (proc.exitCode === null) await new Promise((resolve) => proc.once('exit', resolve))
  }
}

function say(line: string): void {
  process.stderr.write(`${line}\n`)
}

function brief(p: Pair | undefined): string {
  if (!p) return '-'
  const per = (w: Pair['plain'], k: 'processUs' | 'mainUs') => w[k] / w.requests
  const { plain, logged } = p
  return `other ${logged.otherCores.toFixed(2)} cores, ${Math.round(logged.requests / logged.seconds)}/s, ${per(plain, 'processUs').toFixed(2)} -> ${per(logged, 'processUs').toFixed(2)} us/req (main ${per(plain, 'mainUs').toFixed(2)} -> ${per(logged, 'mainUs').toFixed(2)}), p99 ${plain.p99Us.toFixed(0)} -> ${logged.p99Us.toFixed(0)} us`
}

async function main(): Promise<void> {
  const started = new Date()
  const load0 = loadavg()
  const needsBase = (id: string) => id.endsWith('@base') || id.startsWith('ab-')
  // The baseline's own services (`@base`) only when named: the `ab-` rows compare the builds better.
  const ids = CONTENDERS.map((c) => c.id).filter(
    (id) => (!needsBase(id) || BASELINE) && (only ? id === 'none' || only.includes(id) : !id.endsWith('@base')),
  )
  const sink = await Sink.start(root, 1)
  const runs: Run[] = []
  const floors: FloorRun[] = []
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const placement of placements) {
        const mine = placement === 'pinned' ? '1' : ALL_CPUS
        pin(process.pid, mine)
        pin(sink.pid, mine)
        // Rotate the order each round, so no contender always follows the same one.
        const order = ids.map((_, i) => ids[(i + round) % ids.length])
        for (const id of order) {
          const run = await runService(id, placement, round, sink)
          runs.push(run)
          say(`round ${round + 1}/${ROUNDS} ${placement} ${id}: fixed ${brief(run.fixed)}; saturated ${brief(run.saturated)}${run.failure ? ` FAILED: ${run.failure}` : ''}`)
        }
        const f = await runFloors(placement, round, sink)
        if (f) floors.push(f)
      }
    }
  } finally {
    pin(process.pid, ALL_CPUS)
    await sink.stop()
  }
  const meta = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    commit: gitCommit(),
    loadBefore: load0,
    loadAfter: loadavg(),
    rounds: ROUNDS,
    rate: RATE,
    seconds: SECONDS,
    satSeconds: SAT_SECONDS,
    conns: CONNS,
    baseline: BASELINE,
    command: commandLine(),
  }
  const results = join(benchDir, 'results')
  mkdirSync(results, { recursive: true })
  const { markdown, svg } = report(meta, runs, floors)
  writeFileSync(join(results, 'service.json'), `${JSON.stringify({ meta, runs, floors }, null, 1)}\n`)
  writeFileSync(join(results, 'service.md'), markdown)
  if (!only) {
    mkdirSync(join(root, 'docs'), { recursive: true })
    writeFileSync(join(root, 'docs', 'service.svg'), svg)
  }
  say(`wrote bench/results/service.md`)
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch {
    return '?'
  }
}

function commandLine(): string {
  const vars = Object.entries(process.env)
    .filter(([k]) => k.startsWith('SERVICE_'))
    .map(([k, v]) => `${k}=${v}`)
  return [...vars, 'npm run bench:service'].join(' ')
}

/** SERVICE_REPORT_ONLY=1: rewrite results/service.md and docs/service.svg from the last results/service.json. */
function reportOnly(): void {
  const results = join(benchDir, 'results')
  const { meta, runs, floors } = JSON.parse(readFileSync(join(results, 'service.json'), 'utf8'))
  const { markdown, svg } = report(meta, runs, floors)
  writeFileSync(join(results, 'service.md'), markdown)
  writeFileSync(join(root, 'docs', 'service.svg'), svg)
}

if (process.env.SERVICE_REPORT_ONLY) reportOnly()
else await main()
