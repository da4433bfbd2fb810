/**
 * Crossing comparison (tinybench): what one record costs to turn into bytes on the JS thread.
 *
 *   node --import @oxc-node/core/register bench/crossing.ts
 *
 * Per record shape: fluent-native's encoder (`encodeRecord` into its scratch buffer), JSON.stringify,
 * msgpackr.pack, and the whole `FluentClient.emit` (encode + one native call) against a live
 * fluent-sink. Each task iteration handles a batch of distinct records, so the timer's own cost is
 * spread over the batch; results are per record. The emit task is checked like the main bench: the
 * sink must count every record emit() accepted. Writes results/crossing.{json,md}.
 *
 * Environment: CROSSING_TIME=ms per task (default 1000), BENCH_SHAPES=small,medium,large.
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
const TIME = Number(process.env.CROSSING_TIME ?? 1000)
const shapeFilter = process.env.BENCH_SHAPES?.split(',')
const shapes = SHAPES.filter((s) => !shapeFilter || shapeFilter.includes(s))
const MAX = 4 << 20

interface Line {
  shape: string
  task: string
  nsPerRecord: number
  p99NsPerRecord: number
  rme: number
  batches: number
}

async function main(): Promise<void> {
  // Results go somewhere, so nothing is optimised away.
  let keep = 0
  // Two benches: the encoder tasks call encodeRecord directly, and encodeRecord writes into the same
  // module-wide scratch buffer on which FluentClient stages records until the next handover, so they
  // must not run while a client has records staged (see the README).
  const encode = new Bench({ name: `encoding, batches of ${BATCH}`, time: TIME })
  for (const shape of shapes) {
    const records = Array.from({ length: BATCH }, (_, i) => MAKERS[shape](i))
    encode
      .add(`${shape}: fluent-native encodeRecord`, () => {
        for (let i = 0; i < BATCH; i++) keep += encodeRecord(records[i], 0, MAX)
      })
      .add(`${shape}: JSON.stringify`, () => {
        for (let i = 0; i < BATCH; i++) keep += JSON.stringify(records[i]).length
      })
      .add(`${shape}: msgpackr.pack`, () => {
        for (let i = 0; i < BATCH; i++) keep += pack(records[i]).length
      })
  }
  await encode.run()
  console.table(encode.table())

  const sink = await Sink.start(root, 1)
  const client = new FluentClient({ host: '127.0.0.1', port: sink.port })
  const clientErrors: string[] = []
  client.on('error', (e: Error & { code?: string; records?: number }) => clientErrors.push(`${e.code}: ${e.message} (records: ${e.records})`))
  let accepted = 0
  let refused = 0
  const emit = new Bench({ name: `FluentClient.emit, batches of ${BATCH}`, time: TIME })
  for (const shape of shapes) {
    const records = Array.from({ length: BATCH }, (_, i) => MAKERS[shape](i))
    emit.add(`${shape}: FluentClient.emit (encode + stage + handover)`, () => {
      for (let i = 0; i < BATCH; i++) {
        if (client.emit('bench.crossing', records[i])) accepted++
        else refused++
      }
    })
  }
  await emit.run()
  console.table(emit.table())

  const before = client.stats()
  const report = await client.close({ timeoutMs: 60_000 })
  const after = client.stats()
  const delivered = await sink.wait(accepted, 30_000)
  await sink.stop()
  const ok = delivered.events === accepted && report.pending === 0
  if (scratch().length === 0) keep++

  const lines: Line[] = []
  for (const task of [...encode.tasks, ...emit.tasks]) {
    const r = task.result
    if (r.state !== 'completed') {
      console.error(`${task.name}: ${r.state}${r.state === 'errored' ? ` ${r.error}` : ''}`)
      continue
    }
    const [shape, name] = task.name.split(': ')
    lines.push({
      shape,
      task: name,
      nsPerRecord: (r.latency.mean * 1e6) / BATCH,
      p99NsPerRecord: (r.latency.p99 * 1e6) / BATCH,
      rme: r.latency.rme,
      batches: r.latency.samplesCount,
    })
  }
  const md = [
    '# Crossing: per-record cost on the JS thread',
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ` +
      `tinybench, ${TIME} ms per task, batches of ${BATCH} distinct records (mean and p99 of a batch, divided by ${BATCH}). ` +
      'emit includes staging and the handover to native code; its records are sent to a live fluent-sink and checked below.',
    '',
    '| shape | task | ns/record (mean) | ns/record (p99 batch) | ± % | batches | vs JSON.stringify |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...[...lines].sort((a, b) => shapes.indexOf(a.shape as never) - shapes.indexOf(b.shape as never)).map((l) => {
      const json = lines.find((x) => x.shape === l.shape && x.task === 'JSON.stringify')
      const rel = json ? `${(l.nsPerRecord / json.nsPerRecord).toFixed(2)}×` : ''
      return `| ${l.shape} | ${l.task} | ${l.nsPerRecord.toFixed(0)} | ${l.p99NsPerRecord.toFixed(0)} | ${l.rme.toFixed(1)} | ${l.batches} | ${rel} |`
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
