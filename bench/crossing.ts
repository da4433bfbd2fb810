/**
 * Crossing comparison: what one record costs to turn into bytes on the JS thread.
 *
 *   node --import @oxc-node/core/register bench/crossing.ts
 *
 * Per record shape: fluent-native's encoder (`encodeRecord` into its scratch buffer), JSON.stringify,
 * msgpackr.pack, and the whole `FluentClient.emit` (encode + stage + handover) against a live
 * fluent-sink. Each task builds a fresh record per call (as an application builds one per log call);
 * a "build only" task measures what building the record costs, and the net figures subtract it.
 * Main-thread CPU time per call, tasks interleaved in CROSSING_ROUNDS rounds, medians over the rounds
 * (bench/cputasks.ts). The emit task is checked like the main bench: the sink must count every
 * record emit() accepted. `performance.now()` is measured alone too (emit stamps every record with
 * it), and the report splits emit's cost into encoding, the clock, and staging + handover. For the
 * small and medium records, a writer made by hand for that one record (bench/floor.ts: checked to
 * write encodeRecord's bytes, decides nothing at run time) gives the floor under any encoder.
 * Writes results/crossing.{json,md}.
 *
 * Environment: CROSSING_TIME=ms per task and round (default 250), CROSSING_ROUNDS (default 7),
 * BENCH_SHAPES=small,medium,large.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { pack } from 'msgpackr'

import { encodeRecord, scratch } from '../src/encoder.js'
import { FluentClient } from '../index.js'
import { median, runTasks } from './cputasks.ts'
import { FLOORS, checkFloors } from './floor.ts'
import { Sink } from './sink.ts'
import { SHAPES } from '../src/cli/shapes.js'
import type { Shape } from '../src/cli/shapes.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const TIME = Number(process.env.CROSSING_TIME ?? 250)
const ROUNDS = Number(process.env.CROSSING_ROUNDS ?? 7)
const shapeFilter = process.env.BENCH_SHAPES?.split(',')
const shapes = (Object.keys(SHAPES) as Shape[]).filter((s) => !shapeFilter || shapeFilter.includes(s))
const MAX = 4 << 20

interface Line {
  shape: string
  task: string
  /** Median over the rounds of main-thread CPU ns per record, building the record included. */
  nsPerRecord: number
  /** The same less the median "build only" cost of that shape. */
  netNsPerRecord: number
  /** Each round's ns per record, in round order. */
  rounds: number[]
  calls: number
}

const BUILD = 'build only'
const EMIT_TASK = 'FluentClient.emit (encode + stage + handover)'
const FLOOR_TASK = 'hand-written for this record only (the floor; bench/floor.ts)'
/** The clock row's "shape" and task: what emit's per-record time stamp costs alone. */
const CLOCK = 'clock'
const CLOCK_TASK = 'performance.now() alone (the per-record stamp)'
/** Table order: the record shapes as given, then the clock row. */
const order = (shape: string): number => (shape === CLOCK ? shapes.length : shapes.indexOf(shape as never))

async function main(): Promise<void> {
  // Results go somewhere, so nothing is optimised away; built records go into a ring for the same reason.
  let keep = 0
  let seq = 0
  const ring: object[] = new Array(256)
  const sink = await Sink.start(root, 1)
  // A buffer large enough for a whole task's records: a refused record costs less than a sent one.
  const client = new FluentClient({ host: '127.0.0.1', port: sink.port, maxBufferBytes: 1 << 30 })
  const clientErrors: string[] = []
  client.on('error', (e: Error & { code?: string; records?: number }) => clientErrors.push(`${e.code}: ${e.message} (records: ${e.records})`))
  let accepted = 0
  let refused = 0
  checkFloors(SHAPES)
  // encodeRecord writes into the stage's buffer at offset 0: it runs only after a flush has handed
  // every staged record over (each task is followed by one), never while the client has some staged.
  const tasks: Record<string, (calls: number) => void> = {}
  for (const shape of shapes) {
    const make = SHAPES[shape]
    tasks[`${shape}: ${BUILD}`] = (n) => {
      for (let i = 0; i < n; i++) ring[i & 255] = make(seq++)
    }
    tasks[`${shape}: fluent-native encodeRecord`] = (n) => {
      for (let i = 0; i < n; i++) keep += encodeRecord(make(seq++), 0, MAX)
    }
    tasks[`${shape}: JSON.stringify`] = (n) => {
      for (let i = 0; i < n; i++) keep += JSON.stringify(make(seq++)).length
    }
    tasks[`${shape}: msgpackr.pack`] = (n) => {
      for (let i = 0; i < n; i++) keep += pack(make(seq++)).length
    }
    const floor = FLOORS[shape]
    if (floor) {
      tasks[`${shape}: ${FLOOR_TASK}`] = (n) => {
        for (let i = 0; i < n; i++) keep += floor(make(seq++))
      }
    }
    tasks[`${shape}: ${EMIT_TASK}`] = (n) => {
      for (let i = 0; i < n; i++) {
        if (client.emit('bench.crossing', make(seq++))) accepted++
        else refused++
      }
    }
  }
  // emit stamps each record with the monotonic clock (src/stage.ts): its cost alone, for the floor below.
  tasks[`${CLOCK}: ${CLOCK_TASK}`] = (n) => {
    let t = 0
    for (let i = 0; i < n; i++) t += performance.now()
    if (t > 0) keep++
  }
  const { samples, calls, otherLoad } = await runTasks(tasks, {
    rounds: ROUNDS,
    taskMs: TIME,
    between: () => client.flush({ timeoutMs: 30_000 }),
    log: (line) => console.error(line),
  })

  const before = client.stats()
  const report = await client.close({ timeoutMs: 60_000 })
  const after = client.stats()
  const delivered = await sink.wait(accepted, 30_000)
  await sink.stop()
  const ok = delivered.events === accepted && report.pending === 0
  if (scratch().length === 0 || ring.length === 0) keep++

  const lines: Line[] = []
  for (const [name, rounds] of samples) {
    const [shape, task] = name.split(': ')
    const build = samples.get(`${shape}: ${BUILD}`)
    const ns = median(rounds)
    lines.push({ shape, task, nsPerRecord: ns, netNsPerRecord: ns - (build ? median(build) : 0), rounds, calls: calls.get(name)! })
  }
  const ordered = [...lines].sort((a, b) => order(a.shape) - order(b.shape))
  const clock = lines.find((l) => l.shape === CLOCK)?.nsPerRecord ?? NaN
  const net = (shape: string, task: string) => lines.find((l) => l.shape === shape && l.task === task)?.netNsPerRecord ?? NaN
  const floors = shapes.map((shape) => {
    const json = net(shape, 'JSON.stringify')
    const enc = net(shape, 'fluent-native encodeRecord')
    const emit = net(shape, EMIT_TASK)
    const f = (x: number) => `${x.toFixed(0)} ns (${(x / json).toFixed(2)}×)`
    const floor = net(shape, FLOOR_TASK)
    const staging = emit - enc - clock
    const floorLine = Number.isFinite(floor)
      ? ` The floor: the hand-written writer ${f(floor)} + the clock + that staging = ${f(floor + clock + staging)}.`
      : ''
    return `- ${shape}: encoding ${f(enc)} + the clock ${f(clock)} = ${f(enc + clock)}; emit ${f(emit)}, so staging and the handover add ${f(staging)}.${floorLine}`
  })
  const md = [
    '# Crossing: per-record cost on the JS thread',
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ` +
      `main-thread CPU time (schedstat), ${ROUNDS} rounds of every task interleaved, each task's loop sized to about ${TIME} ms, records built fresh per call. ` +
      `Other processes' load before each round (cores): ${otherLoad.map((x) => x.toFixed(2)).join(', ')}. ` +
      'Figures are medians over the rounds; "net" subtracts the median cost of building the record ' +
      '(the "build only" row), and the ratio compares net costs. ' +
      'emit includes staging and the handover to native code; its records are sent to a live fluent-sink and checked below.',
    '',
    '| shape | task | ns/record, built fresh | net ns/record | net vs JSON.stringify | rounds (ns/record) | calls per round |',
    '|---|---|---:|---:|---:|---|---:|',
    ...ordered.map((l) => {
      const json = lines.find((x) => x.shape === l.shape && x.task === 'JSON.stringify')
      const rel = json && l.task !== BUILD ? `${(l.netNsPerRecord / json.netNsPerRecord).toFixed(2)}×` : ''
      const net = l.task === BUILD ? '' : l.netNsPerRecord.toFixed(0)
      return `| ${l.shape} | ${l.task} | ${l.nsPerRecord.toFixed(0)} | ${net} | ${rel} | ${l.rounds.map((x) => x.toFixed(0)).join(', ')} | ${l.calls.toLocaleString('en-US')} |`
    }),
    '',
    'What emit costs beyond encoding, per record (net ns, and as a fraction of JSON.stringify of that shape):',
    '',
    ...floors,
    '',
    `emit check: ${accepted.toLocaleString('en-US')} records accepted, ${refused.toLocaleString('en-US')} refused (buffer full), ` +
      `the sink counted ${delivered.events.toLocaleString('en-US')}; close() reported ${JSON.stringify(report)}; ` +
      `client errors: ${clientErrors.length ? clientErrors.join('; ') : 'none'}; stats() before close: emitted ${before.emitted}, dropped ${before.dropped}; after: sent ${after.sent}, errors ${after.errors}, reconnects ${after.reconnects}, retries ${after.retries}. ` +
      (ok ? 'Every accepted record arrived.' : '**NOT every accepted record arrived: the emit row does not count.**'),
    '',
  ].join('\n')
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  writeFileSync(join(benchDir, 'results', 'crossing.json'), `${JSON.stringify({ otherLoad, lines, accepted, refused, delivered, report, before, after, clientErrors, ok, keep: keep > 0 }, null, 2)}\n`)
  writeFileSync(join(benchDir, 'results', 'crossing.md'), md)
  process.stdout.write(`\n${md}`)
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
