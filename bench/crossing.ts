/**
 * Crossing comparison (tinybench): what one record costs to turn into bytes on the JS thread.
 *
 *   node --import @oxc-node/core/register bench/crossing.ts
 *
 * Per record shape: fluent-native's encoder (`encodeRecord` into its scratch buffer), JSON.stringify,
 * msgpackr.pack, and the whole `FluentClient.emit` (encode + stage + handover) against a live
 * fluent-sink. Each task builds a fresh record per call (as an application builds one per log call),
 * a batch of BATCH per task iteration so the timer's own cost is spread; a "build only" task measures
 * what building the record costs, and the net figures subtract it. Tasks run in CROSSING_ROUNDS
 * rounds (every task once per round, interleaved), and each figure is the median over the rounds,
 * so a burst of load from another process on this shared machine moves one round, not the result.
 * The emit task is checked like the main bench: the sink must count every record emit() accepted.
 * Writes results/crossing.{json,md}.
 *
 * Environment: CROSSING_TIME=ms per task and round (default 400), CROSSING_ROUNDS (default 5),
 * BENCH_SHAPES=small,medium,large.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { pack } from 'msgpackr'
import { Bench } from 'tinybench'

import { encodeRecord, scratch } from '../src/encoder.js'
import { FluentClient } from '../index.js'
import { Sink } from './sink.ts'
import { MAKERS, SHAPES } from './worker.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const BATCH = 100
const TIME = Number(process.env.CROSSING_TIME ?? 400)
const ROUNDS = Number(process.env.CROSSING_ROUNDS ?? 5)
const shapeFilter = process.env.BENCH_SHAPES?.split(',')
const shapes = SHAPES.filter((s) => !shapeFilter || shapeFilter.includes(s))
const MAX = 4 << 20

interface Line {
  shape: string
  task: string
  /** Median over the rounds of the mean ns per record, building the record included. */
  nsPerRecord: number
  /** The same less the median "build only" cost of that shape. */
  netNsPerRecord: number
  /** Each round's mean ns per record, in round order. */
  rounds: number[]
  batches: number
}

const BUILD = 'build only'

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function main(): Promise<void> {
  // Results go somewhere, so nothing is optimised away; built records go into a ring for the same reason.
  let keep = 0
  let seq = 0
  const ring: object[] = new Array(256)
  const sink = await Sink.start(root, 1)
  const client = new FluentClient({ host: '127.0.0.1', port: sink.port })
  const clientErrors: string[] = []
  client.on('error', (e: Error & { code?: string; records?: number }) => clientErrors.push(`${e.code}: ${e.message} (records: ${e.records})`))
  let accepted = 0
  let refused = 0
  const samples = new Map<string, { rounds: number[]; batches: number }>()
  const record = (name: string, ms: number, n: number): void => {
    const s = samples.get(name) ?? { rounds: [], batches: 0 }
    s.rounds.push((ms * 1e6) / BATCH)
    s.batches += n
    samples.set(name, s)
  }
  for (let round = 0; round < ROUNDS; round++) {
    // Two benches: the encoder tasks call encodeRecord directly, and encodeRecord writes into the same
    // module-wide scratch buffer on which FluentClient stages records until the next handover, so they
    // must not run while a client has records staged; the emit bench runs after, once per round.
    const encode = new Bench({ name: `encoding, round ${round + 1}, batches of ${BATCH}`, time: TIME })
    for (const shape of shapes) {
      const make = MAKERS[shape]
      encode
        .add(`${shape}: ${BUILD}`, () => {
          for (let i = 0; i < BATCH; i++) ring[i & 255] = make(seq++)
        })
        .add(`${shape}: fluent-native encodeRecord`, () => {
          for (let i = 0; i < BATCH; i++) keep += encodeRecord(make(seq++), 0, MAX)
        })
        .add(`${shape}: JSON.stringify`, () => {
          for (let i = 0; i < BATCH; i++) keep += JSON.stringify(make(seq++)).length
        })
        .add(`${shape}: msgpackr.pack`, () => {
          for (let i = 0; i < BATCH; i++) keep += pack(make(seq++)).length
        })
    }
    await encode.run()
    const emit = new Bench({ name: `FluentClient.emit, round ${round + 1}, batches of ${BATCH}`, time: TIME })
    for (const shape of shapes) {
      const make = MAKERS[shape]
      emit.add(`${shape}: FluentClient.emit (encode + stage + handover)`, () => {
        for (let i = 0; i < BATCH; i++) {
          if (client.emit('bench.crossing', make(seq++))) accepted++
          else refused++
        }
      })
    }
    await emit.run()
    for (const task of [...encode.tasks, ...emit.tasks]) {
      const r = task.result
      if (r.state !== 'completed') {
        console.error(`${task.name}: ${r.state}${r.state === 'errored' ? ` ${r.error}` : ''}`)
        continue
      }
      record(task.name, r.latency.mean, r.latency.samplesCount)
    }
    console.error(`round ${round + 1}/${ROUNDS} done`)
  }

  const before = client.stats()
  const report = await client.close({ timeoutMs: 60_000 })
  const after = client.stats()
  const delivered = await sink.wait(accepted, 30_000)
  await sink.stop()
  const ok = delivered.events === accepted && report.pending === 0
  if (scratch().length === 0 || ring.length === 0) keep++

  const lines: Line[] = []
  for (const [name, s] of samples) {
    const [shape, task] = name.split(': ')
    const build = samples.get(`${shape}: ${BUILD}`)
    const ns = median(s.rounds)
    lines.push({ shape, task, nsPerRecord: ns, netNsPerRecord: ns - (build ? median(build.rounds) : 0), rounds: s.rounds, batches: s.batches })
  }
  const ordered = [...lines].sort((a, b) => shapes.indexOf(a.shape as never) - shapes.indexOf(b.shape as never))
  const md = [
    '# Crossing: per-record cost on the JS thread',
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ` +
      `tinybench, ${ROUNDS} rounds of ${TIME} ms per task, batches of ${BATCH} records built fresh per call. ` +
      'Figures are medians over the rounds of the mean per record; "net" subtracts the median cost of building the record ' +
      '(the "build only" row), and the ratio compares net costs. ' +
      'emit includes staging and the handover to native code; its records are sent to a live fluent-sink and checked below.',
    '',
    '| shape | task | ns/record, built fresh | net ns/record | net vs JSON.stringify | rounds (ns/record) |',
    '|---|---|---:|---:|---:|---|',
    ...ordered.map((l) => {
      const json = lines.find((x) => x.shape === l.shape && x.task === 'JSON.stringify')
      const rel = json && l.task !== BUILD ? `${(l.netNsPerRecord / json.netNsPerRecord).toFixed(2)}×` : ''
      const net = l.task === BUILD ? '' : l.netNsPerRecord.toFixed(0)
      return `| ${l.shape} | ${l.task} | ${l.nsPerRecord.toFixed(0)} | ${net} | ${rel} | ${l.rounds.map((x) => x.toFixed(0)).join(', ')} |`
    }),
    '',
    `emit check: ${accepted.toLocaleString('en-US')} records accepted, ${refused.toLocaleString('en-US')} refused (buffer full), ` +
      `the sink counted ${delivered.events.toLocaleString('en-US')}; close() reported ${JSON.stringify(report)}; ` +
      `client errors: ${clientErrors.length ? clientErrors.join('; ') : 'none'}; stats() before close: emitted ${before.emitted}, dropped ${before.dropped}; after: sent ${after.sent}, errors ${after.errors}, reconnects ${after.reconnects}, retries ${after.retries}. ` +
      (ok ? 'Every accepted record arrived.' : '**NOT every accepted record arrived: the emit row does not count.**'),
    '',
  ].join('\n')
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  writeFileSync(join(benchDir, 'results', 'crossing.json'), `${JSON.stringify({ lines, accepted, refused, delivered, report, before, after, clientErrors, ok, keep: keep > 0 }, null, 2)}\n`)
  writeFileSync(join(benchDir, 'results', 'crossing.md'), md)
  process.stdout.write(`\n${md}`)
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
