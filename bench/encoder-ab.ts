/**
 * Two builds' encoders against each other: this checkout's and another built checkout's
 * (ENCODER_BASELINE, a directory with its own compiled index.js and src/encoder.js).
 *
 *   ENCODER_BASELINE=/path/to/other/checkout node --import @oxc-node/core/register bench/encoder-ab.ts
 *
 * Tasks, each a loop of calls on a record built fresh per call (src/cli/shapes.ts SHAPES):
 * `encodeRecord` of the small, medium and large records, and the leveled logger's
 * `child.info(msg, fields)` (15 bound fields and 5 per call, as bench/logger.ts) to a live
 * fluent-sink that must count every record; building the records alone is measured to subtract
 * ("net"). Main-thread CPU time per call (bench/cputasks.ts).
 *
 * A round is one fresh process per build, the baseline's first in even rounds and second in odd
 * ones; each process sizes its loops, runs every task AB_INNER times and reports each task's median.
 * One process per build rather than both builds in one: in one process the builds share V8's
 * compilation cache and whatever else a process keeps, and an A/A run (a copy of the same build
 * against itself) measured one copy 0.92x the other on the logger in 6 of 7 rounds.
 *
 * Reported per task: the median over the rounds of each build's net ns per call, their ratio
 * (this / baseline), the range of the per-round ratios, and the baseline's own round-to-round
 * spread. Before measuring, both builds must write the same bytes for every record.
 * Writes results/encoder-ab.{json,md}.
 *
 * Environment: ENCODER_BASELINE (required), ENCODER_THIS (default: this checkout; e.g. a copy of the
 * baseline for an A/A run), AB_ROUNDS (default 7), AB_INNER (default 3), AB_TASK_MS (default 250),
 * AB_QUIET_MS (the longest wait for quiet before each inner round, default 10000).
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { median, runTasks } from './cputasks.ts'
import { Sink } from './sink.ts'
import { SHAPES } from '../src/cli/shapes.js'
import type { Shape } from '../src/cli/shapes.js'
import { BOUND, MSG, perCall } from './logger-record.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const require = createRequire(import.meta.url)
const ROUNDS = Number(process.env.AB_ROUNDS ?? 7)
const INNER = Number(process.env.AB_INNER ?? 3)
const TASK_MS = Number(process.env.AB_TASK_MS ?? 250)
const QUIET_MS = Number(process.env.AB_QUIET_MS ?? 10_000)
const MAX = 4 << 20
const SHAPE_NAMES = Object.keys(SHAPES) as Shape[]
const GROUPS = [...SHAPE_NAMES, 'logger'] as const


/** Net ns per call of each group's task, and the build-only ns, from one process. */
interface ChildResult {
  net: Record<string, number>
  build: Record<string, number>
  otherLoad: number[]
  ok: boolean
}

/** One build's measurements in this process (the child). */
async function child(dir: string): Promise<ChildResult> {
  const { encodeRecord } = require(join(dir, 'src', 'encoder.js'))
  const { FluentClient } = require(join(dir, 'index.js'))
  const sink = await Sink.start(root, 1)
  const client = new FluentClient({ host: '127.0.0.1', port: sink.port, maxBufferBytes: 1 << 30 })
  client.on('error', (e: Error & { code?: string }) => console.error(`client: ${e.code}: ${e.message}`))
  const logger = client.logger({ tag: 'bench.ab', level: 'info' }).child(BOUND)
  let keep = 0
  let seq = 0
  let accepted = 0
  let refused = 0
  const ring: object[] = new Array(256)
  const tasks: Record<string, (n: number) => void> = {}
  // encodeRecord writes at offset 0 of the buffer the client stages into: every task is followed by a
  // flush, so nothing is staged when it runs (as in crossing.ts).
  for (const shape of SHAPE_NAMES) {
    const make = SHAPES[shape]
    tasks[`${shape}: build`] = (n) => {
      for (let i = 0; i < n; i++) ring[i & 255] = make(seq++)
    }
    tasks[`${shape}: task`] = (n) => {
      for (let i = 0; i < n; i++) keep += encodeRecord(make(seq++), 0, MAX)
    }
  }
  tasks['logger: build'] = (n) => {
    for (let i = 0; i < n; i++) ring[i & 255] = perCall(seq++)
  }
  tasks['logger: task'] = (n) => {
    for (let i = 0; i < n; i++) {
      if (logger.info(MSG, perCall(seq++))) accepted++
      else refused++
    }
  }
  const { samples, otherLoad } = await runTasks(tasks, {
    rounds: INNER,
    taskMs: TASK_MS,
    quietMs: QUIET_MS,
    between: () => client.flush({ timeoutMs: 30_000 }),
  })
  await client.close({ timeoutMs: 60_000 })
  const delivered = await sink.wait(accepted, 30_000)
  await sink.stop()
  if (ring.length === 0) keep++
  const net: Record<string, number> = {}
  const build: Record<string, number> = {}
  for (const g of GROUPS) {
    const b = samples.get(`${g}: build`)!
    build[g] = median(b)
    net[g] = median(samples.get(`${g}: task`)!.map((x, r) => x - b[r]))
  }
  return { net, build, otherLoad, ok: delivered.events === accepted && refused === 0 && keep > 0 }
}

function runChild(dir: string): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const args = ['--import', '@oxc-node/core/register', fileURLToPath(import.meta.url), '--child', dir]
    const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout.on('data', (d) => (out += d))
    proc.on('error', reject)
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`child for ${dir} exited with ${code}`))
      resolvePromise(JSON.parse(out.trim().split('\n').pop()!) as ChildResult)
    })
  })
}

function gitHead(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return 'not a git checkout'
  }
}

async function driver(): Promise<void> {
  if (!process.env.ENCODER_BASELINE) throw new Error('ENCODER_BASELINE: the directory of the other built checkout')
  const dirs = { base: resolve(process.env.ENCODER_BASELINE), this: resolve(process.env.ENCODER_THIS ?? root) }
  // Both builds must write the same bytes, or the comparison is of different work.
  const encoders = [dirs.base, dirs.this].map((d) => require(join(d, 'src', 'encoder.js')))
  for (const shape of SHAPE_NAMES) {
    for (let i = 0; i < 3; i++) {
      const [a, b] = encoders.map((e) => Buffer.from(e.scratch().subarray(0, e.encodeRecord(SHAPES[shape](i), 0, MAX))))
      if (!a.equals(b)) throw new Error(`the builds encode the ${shape} record differently`)
    }
  }
  const results: Record<'base' | 'this', ChildResult[]> = { base: [], this: [] }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (['base', 'this'] as const) : (['this', 'base'] as const)
    for (const id of order) results[id].push(await runChild(dirs[id]))
    const last = (id: 'base' | 'this') => results[id][round].net
    console.error(`round ${round + 1}/${ROUNDS}: ${GROUPS.map((g) => `${g} ${(last('this')[g] / last('base')[g]).toFixed(3)}`).join(', ')}`)
  }
  const ok = [...results.base, ...results.this].every((r) => r.ok)
  const rows = GROUPS.map((g) => {
    const base = results.base.map((r) => r.net[g])
    const mine = results.this.map((r) => r.net[g])
    const perRound = mine.map((x, r) => x / base[r])
    const baseNs = median(base)
    const thisNs = median(mine)
    return {
      group: g,
      task: g === 'logger' ? 'child.info' : 'encodeRecord',
      buildNs: median([...results.base, ...results.this].map((r) => r.build[g])),
      baseNs,
      thisNs,
      ratio: thisNs / baseNs,
      perRound,
      baseRounds: base,
      thisRounds: mine,
      /** The baseline's own round-to-round spread: its fastest and slowest round against its median. */
      baseSpread: [Math.min(...base) / baseNs, Math.max(...base) / baseNs],
    }
  })
  const when = new Date().toISOString()
  const load = [...results.base, ...results.this].flatMap((r) => r.otherLoad)
  const f = (x: number) => x.toFixed(3)
  const md = [
    `# encoder A/B (bench/encoder-ab.ts)`,
    '',
    `${when}, Node ${process.version}. Baseline ${dirs.base} (${gitHead(dirs.base)}), this ${dirs.this} (${gitHead(dirs.this)}).`,
    `${ROUNDS} rounds, each one process per build (order alternating), each process ${INNER} inner rounds of ${TASK_MS} ms tasks.`,
    `Delivery: ${ok ? 'every logger record arrived in every process' : 'FAILED in some process'}. Other processes' load before inner rounds (cores): median ${median(load).toFixed(2)}, max ${Math.max(...load).toFixed(2)}.`,
    '',
    '| record | task | build only ns | baseline net ns | this net ns | this / baseline | per-round ratios (min, median, max) | baseline rounds / its median (min, max) |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.group} | ${r.task} | ${r.buildNs.toFixed(1)} | ${r.baseNs.toFixed(1)} | ${r.thisNs.toFixed(1)} | **${f(r.ratio)}** | ${f(Math.min(...r.perRound))}, ${f(median(r.perRound))}, ${f(Math.max(...r.perRound))} | ${r.baseSpread.map(f).join(', ')} |`,
    ),
    '',
    `Per-round ratios in round order: ${rows.map((r) => `${r.group} ${r.perRound.map(f).join(' ')}`).join('; ')}.`,
    '',
  ].join('\n')
  console.log(md)
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  writeFileSync(join(benchDir, 'results', 'encoder-ab.md'), md)
  writeFileSync(
    join(benchDir, 'results', 'encoder-ab.json'),
    JSON.stringify({ when, node: process.version, dirs, rounds: ROUNDS, inner: INNER, taskMs: TASK_MS, ok, rows, results }, null, 2),
  )
  if (!ok) process.exitCode = 1
}

const at = process.argv.indexOf('--child')
const main = at >= 0 ? child(process.argv[at + 1]).then((r) => console.log(JSON.stringify(r))) : driver()
main.catch((e) => {
  console.error(e)
  process.exit(1)
})
