/**
 * gzip against zstd, every level each offers (gzip 0-9, zstd 1-19) and no compression as the
 * reference, on the small, medium and large record shapes of the main bench (src/cli/shapes.ts):
 *
 *   npm run build && npm run build:sink
 *   node --import @oxc-node/core/register bench/compression.ts     # writes results/compression.{json,md}
 *
 * Each run sends about BENCH_MIB (default 8) MiB of records through a fresh FluentClient (default
 * batchBytes, packedForward, no acks) to the fluent-sink receiver in its own process, which decodes
 * (and so inflates) every record. Measured per run:
 * - delivered events/s: N / (first emit until the sink has counted N);
 * - writer-thread CPU µs/event: the schedstat run time of the client's writer thread (the one
 *   thread that compresses) over N, read once everything is written and before close ends it;
 * - wire bytes/event: what the sink read from the socket over N.
 * The machine may be shared: compare within one run (the ratio columns), not across runs.
 */
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FluentClient } from '../index.js'
import type { FluentClientOptions } from '../index.js'
import { Sink } from './sink.ts'
import { SHAPES } from '../src/cli/shapes.js'
import type { Shape } from '../src/cli/shapes.js'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const MIB = Number(process.env.BENCH_MIB ?? 8)
const shapes = Object.keys(SHAPES) as Shape[]
/** Approximate encoded bytes per record, to size each run to MIB (the sink counts the real ones). */
const APPROX: Record<Shape, number> = { small: 70, medium: 600, large: 1100 }

type Config = { name: string; options: FluentClientOptions }
const CONFIGS: Config[] = [
  { name: 'none', options: {} },
  ...Array.from({ length: 10 }, (_, l) => ({ name: `gzip ${l}`, options: { compress: 'gzip' as const, compressionLevel: l } })),
  ...Array.from({ length: 19 }, (_, i) => ({ name: `zstd ${i + 1}`, options: { compress: 'zstd' as const, compressionLevel: i + 1 } })),
]

/** CPU ns of this process's writer threads (named fluent-forward-writer, truncated by the kernel). */
function writerCpuNs(): number {
  let ns = 0
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('fluent-forward')) continue
      ns += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns
}

interface Row {
  shape: Shape
  config: string
  events: number
  eventsPerSecond: number
  writerCpuUsPerEvent: number
  wireBytesPerEvent: number
}

async function once(sink: Sink, shape: Shape, config: Config): Promise<Row> {
  const n = Math.round((MIB * 1024 * 1024) / APPROX[shape])
  const make = SHAPES[shape]
  const records = Array.from({ length: n }, (_, i) => make(i))
  const client = new FluentClient({ port: sink.port, ...config.options, exitFlushTimeoutMs: 0 })
  // One record first, so the connection is up before the clock starts (and not counted).
  client.emit('warm', { up: true })
  await client.flush({ timeoutMs: 30_000 })
  await sink.wait(1, 30_000)
  await sink.reset()
  const before = writerCpuNs()
  const t0 = performance.now()
  for (let i = 0; i < n; i += 1000) {
    const r = client.emitMany('bench', records.slice(i, i + 1000))
    if (r.dropped + r.errors.length > 0) throw new Error(`${config.name}: ${r.dropped} dropped, ${r.errors.length} refused`)
    // Keep the buffer (64 MiB by default) from overflowing while a slow level compresses.
    while (client.stats().queuedBytes > 32 << 20) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  // Resolves once everything is written (it rejects on its timeout).
  await client.flush({ timeoutMs: 600_000 })
  const cpuNs = writerCpuNs() - before
  const s = await sink.wait(n, 600_000)
  const seconds = (performance.now() - t0) / 1000
  const report = await client.close({ timeoutMs: 10_000 })
  if (s.events !== n || report.sent !== n + 1) throw new Error(`${config.name}: ${s.events} of ${n} arrived (sent ${report.sent - 1})`)
  return {
    shape,
    config: config.name,
    events: n,
    eventsPerSecond: Math.round(n / seconds),
    writerCpuUsPerEvent: cpuNs / 1000 / n,
    wireBytesPerEvent: s.bytes / n,
  }
}

function markdown(rows: Row[]): string {
  const out = [
    '# gzip against zstd (bench/compression.ts)',
    '',
    `${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ` +
      `about ${MIB} MiB of records per run, fluent-sink receiver (1 thread) in its own process, no acks. ` +
      'The machine is shared with other jobs: compare rows within this run (the ratios are to `none`, ' +
      'the uncompressed run of the same shape), not with another run.',
    '',
  ]
  for (const shape of shapes) {
    const mine = rows.filter((r) => r.shape === shape)
    const none = mine.find((r) => r.config === 'none')!
    out.push(`## ${shape} (${mine[0].events} events per run)`, '')
    out.push('| compress | delivered events/s | writer CPU µs/event | wire bytes/event | wire vs none | events/s vs none |')
    out.push('|---|---:|---:|---:|---:|---:|')
    for (const r of mine) {
      out.push(
        `| ${r.config} | ${r.eventsPerSecond.toLocaleString('en-US')} | ${r.writerCpuUsPerEvent.toFixed(3)} | ` +
          `${r.wireBytesPerEvent.toFixed(1)} | ${(r.wireBytesPerEvent / none.wireBytesPerEvent).toFixed(3)} | ` +
          `${(r.eventsPerSecond / none.eventsPerSecond).toFixed(2)} |`,
      )
    }
    out.push('')
  }
  return out.join('\n')
}

async function main() {
  const sink = await Sink.start(root, 1)
  const rows: Row[] = []
  try {
    for (const shape of shapes) {
      for (const config of CONFIGS) {
        const row = await once(sink, shape, config)
        rows.push(row)
        process.stderr.write(
          `${shape} ${config.name}: ${row.eventsPerSecond} events/s, ${row.writerCpuUsPerEvent.toFixed(3)} µs writer CPU/event, ${row.wireBytesPerEvent.toFixed(1)} B/event\n`,
        )
      }
    }
  } finally {
    await sink.stop()
  }
  const dir = join(benchDir, 'results')
  mkdirSync(dir, { recursive: true })
  const name = process.env.BENCH_OUT ?? 'compression'
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(rows, null, 2) + '\n')
  writeFileSync(join(dir, `${name}.md`), markdown(rows) + '\n')
  process.stderr.write(`wrote bench/results/${name}.{json,md}\n`)
}

await main()
