/**
 * What the durable spool (issue 27) costs, against the memory-only client, in one run:
 *
 *   npm run build && npm run build:sink
 *   node --import @oxc-node/core/register bench/spool.ts      # writes results/spool.{json,md}
 *
 * 1. Throughput, small and medium records (src/cli/shapes.ts), each contender in its own child
 *    process (spool-child.mjs), BENCH_REPEATS rounds (default 3) taken in turn, median run:
 *    memory-only, and the spool with syncIntervalMs -1 (never fsync), 1000 (the default) and 0
 *    (fsync after every batch). The server (fluent-sink, its own process) keeps up, so the spool's
 *    cost is appending every batch and deleting settled files. Measured per run:
 *    - delivered events/s: N / (first emit until the sink has counted N);
 *    - process CPU µs/event: process.cpuUsage() (all threads) over the same span, over N;
 *    - main-thread CPU µs/event: the main thread's schedstat run time over N (emit, the waits for
 *      room between chunks, close); and the same inside the emit calls alone (what logging costs the
 *      app's thread per record: a slower drain means more polling, which is the bench's cost);
 *    every contender must deliver all N records and drop none, or the run fails.
 * 2. Disk bytes per record: the server down, each shape spooled until BENCH_SPOOL_SAMPLE_MB (16)
 *    MiB are on disk; segment bytes over records, against the wire bytes per record the sink read.
 * 3. Replay: a backlog of BENCH_SPOOL_REPLAY_MB (default 1024, i.e. 1 GiB) of medium records left
 *    on disk by a process whose server never came; a new process opens the dir with the sink up:
 *    the time until the sink has counted every record, and that process's CPU.
 * The machine may be shared: compare within one run (the ratios), not across runs.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Sink } from './sink.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const CHILD = join(benchDir, 'spool-child.mjs')
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3)
const EVENTS: Record<Shape, number> = {
  small: Number(process.env.BENCH_SMALL_EVENTS ?? 1_000_000),
  medium: Number(process.env.BENCH_MEDIUM_EVENTS ?? 250_000),
}
const SAMPLE_MB = Number(process.env.BENCH_SPOOL_SAMPLE_MB ?? 16)
const REPLAY_MB = Number(process.env.BENCH_SPOOL_REPLAY_MB ?? 1024)
const SHAPES = ['small', 'medium'] as const
type Shape = (typeof SHAPES)[number]

interface Contender {
  id: string
  label: string
  syncIntervalMs?: number
}
const CONTENDERS: Contender[] = [
  { id: 'memory', label: 'memory only' },
  { id: 'spool-never', label: 'spool, syncIntervalMs -1 (never fsync)', syncIntervalMs: -1 },
  { id: 'spool-default', label: 'spool, syncIntervalMs 1000 (default)', syncIntervalMs: 1000 },
  { id: 'spool-every', label: 'spool, syncIntervalMs 0 (fsync every batch)', syncIntervalMs: 0 },
]

/** Runs spool-child.mjs with this config; its `@@SPOOL` line. */
function child(config: Record<string, unknown>): Promise<any> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD], { env: { ...process.env, SPOOL_CHILD: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('@@SPOOL '))
      if (code !== 0 || line === undefined) reject(new Error(`spool child ${JSON.stringify(config)} exited ${code}: ${out.slice(-500)}`))
      else resolve(JSON.parse(line.slice(8)))
    })
  })
}

function segmentBytes(dir: string): number {
  let n = 0
  for (const slot of readdirSync(dir)) {
    const p = join(dir, slot)
    if (!statSync(p).isDirectory()) continue
    for (const f of readdirSync(p)) if (f.endsWith('.seg')) n += statSync(join(p, f)).size
  }
  return n
}

async function deadPort(): Promise<number> {
  const net = await import('node:net')
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

interface Run {
  shape: Shape
  contender: string
  round: number
  eventsPerSecond: number
  procCpuUsPerEvent: number
  mainCpuUsPerEvent: number
  /** The main thread's CPU inside the emit calls only (no waits, no close). */
  emitCpuUsPerEvent: number
  wireBytesPerEvent: number
  rssMB: number
}

async function throughput(sink: Sink, shape: Shape, c: Contender, round: number): Promise<Run> {
  const n = EVENTS[shape]
  const dir = c.syncIntervalMs === undefined ? undefined : mkdtempSync(join(tmpdir(), 'fluent-spool-bench-'))
  await sink.reset()
  try {
    // When the sink has counted everything: the moment its answer arrives, not after the child exits.
    const waiting = sink.wait(n + 1, 600_000).then((s) => ({ s, end: performance.timeOrigin + performance.now() }))
    const r = await child({ mode: 'throughput', port: sink.port, shape, events: n, spool: dir ? { dir, syncIntervalMs: c.syncIntervalMs } : null })
    const { s, end } = await waiting
    if (s.events !== n + 1 || r.report.sent !== n + 1 || r.report.dropped !== 0) {
      throw new Error(`${c.id} ${shape}: the sink counted ${s.events - 1} of ${n}, the client sent ${r.report.sent - 1} and dropped ${r.report.dropped}`)
    }
    const seconds = (end - r.t0) / 1000
    return {
      shape,
      contender: c.id,
      round,
      eventsPerSecond: Math.round(n / seconds),
      procCpuUsPerEvent: r.procCpuUs / n,
      mainCpuUsPerEvent: r.mainCpuUs / n,
      emitCpuUsPerEvent: r.emitOnlyUs / n,
      wireBytesPerEvent: s.bytes / (n + 1),
      rssMB: r.rssMB,
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

async function diskPerRecord(shape: Shape): Promise<{ shape: Shape; records: number; diskBytes: number; diskBytesPerRecord: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fluent-spool-bench-'))
  try {
    const r = await child({ mode: 'fill', port: await deadPort(), shape, targetBytes: SAMPLE_MB << 20, spool: { dir, maxBytes: 2 * (SAMPLE_MB << 20) + (64 << 20) } })
    const diskBytes = segmentBytes(dir)
    return { shape, records: r.records, diskBytes, diskBytesPerRecord: diskBytes / r.records }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function replay(sink: Sink) {
  const dir = mkdtempSync(join(tmpdir(), 'fluent-spool-bench-'))
  try {
    const target = REPLAY_MB << 20
    const filled = await child({ mode: 'fill', port: await deadPort(), shape: 'medium', targetBytes: target, spool: { dir, maxBytes: target + (256 << 20) } })
    const n = filled.records
    if (filled.report.spooled !== n) throw new Error(`fill: ${n} records accepted, ${filled.report.spooled} left on disk`)
    const diskBytes = segmentBytes(dir)
    process.stderr.write(`replay: ${n} medium records, ${(diskBytes / 2 ** 20).toFixed(0)} MiB on disk (filled in ${(filled.ms / 1000).toFixed(1)} s)\n`)
    await sink.reset()
    const waiting = sink.wait(n, 1_800_000).then((s) => ({ s, end: performance.timeOrigin + performance.now() }))
    const r = await child({ mode: 'replay', port: sink.port, expected: n, spool: { dir } })
    const { s, end } = await waiting
    if (s.events !== n || r.report.replayed !== n) throw new Error(`replay: the sink counted ${s.events} of ${n}, the client replayed ${r.report.replayed}`)
    const seconds = (end - r.t0) / 1000
    return { records: n, diskBytes, seconds, mibPerSecond: diskBytes / 2 ** 20 / seconds, eventsPerSecond: Math.round(n / seconds), procCpuUsPerEvent: r.procCpuUs / n, fillSeconds: filled.ms / 1000, leftAfter: segmentBytes(dir) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function markdown(runs: Run[], disk: Awaited<ReturnType<typeof diskPerRecord>>[], rep: Awaited<ReturnType<typeof replay>>, meta: Record<string, unknown>): string {
  const out = [
    '# The spool against memory-only (bench/spool.ts)',
    '',
    `${meta.started}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, load average at the start ${meta.loadStart}, at the end ${meta.loadEnd}. ` +
      `fluent-sink receiver (1 thread) in its own process, no acks, default options otherwise (batchBytes 512 KiB, maxBufferBytes 64 MiB); ` +
      `spool dir on ${meta.fs}. Each figure is the median of ${REPEATS} runs taken in turn; each run delivered every record (checked). ` +
      'The machine is shared with other jobs: compare within this run (the ratio columns), not with another run.',
    '',
    '## Throughput (the server keeps up)',
    '',
  ]
  for (const shape of SHAPES) {
    const mem = runs.filter((r) => r.shape === shape && r.contender === 'memory')
    const memEps = median(mem.map((r) => r.eventsPerSecond))
    const memMain = median(mem.map((r) => r.mainCpuUsPerEvent))
    const memProc = median(mem.map((r) => r.procCpuUsPerEvent))
    const memEmit = median(mem.map((r) => r.emitCpuUsPerEvent))
    out.push(`### ${shape} (${EVENTS[shape].toLocaleString('en-US')} events per run, ${median(mem.map((r) => r.wireBytesPerEvent)).toFixed(1)} wire bytes/event)`, '')
    out.push('| client | delivered events/s | vs memory-only | process CPU µs/event | vs memory-only | main-thread CPU µs/event | vs memory-only | emit calls alone, µs/event | vs memory-only | peak RSS MB | runs (events/s) |')
    out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
    for (const c of CONTENDERS) {
      const mine = runs.filter((r) => r.shape === shape && r.contender === c.id)
      const eps = median(mine.map((r) => r.eventsPerSecond))
      const proc = median(mine.map((r) => r.procCpuUsPerEvent))
      const main = median(mine.map((r) => r.mainCpuUsPerEvent))
      const emit = median(mine.map((r) => r.emitCpuUsPerEvent))
      out.push(
        `| ${c.label} | ${eps.toLocaleString('en-US')} | ${(eps / memEps).toFixed(2)} | ${proc.toFixed(3)} | ${(proc / memProc).toFixed(2)} | ${main.toFixed(3)} | ${(main / memMain).toFixed(2)} | ${emit.toFixed(3)} | ${(emit / memEmit).toFixed(2)} | ${median(mine.map((r) => r.rssMB)).toFixed(0)} | ${mine.map((r) => r.eventsPerSecond.toLocaleString('en-US')).join(', ')} |`,
      )
    }
    out.push('')
  }
  out.push('## Disk bytes per record (server down, the spool holding the backlog)', '')
  out.push('| shape | records | segment bytes | disk bytes/record | wire bytes/record | disk / wire |')
  out.push('|---|---:|---:|---:|---:|---:|')
  for (const d of disk) {
    const wire = median(runs.filter((r) => r.shape === d.shape && r.contender === 'memory').map((r) => r.wireBytesPerEvent))
    out.push(`| ${d.shape} | ${d.records.toLocaleString('en-US')} | ${d.diskBytes.toLocaleString('en-US')} | ${d.diskBytesPerRecord.toFixed(1)} | ${wire.toFixed(1)} | ${(d.diskBytesPerRecord / wire).toFixed(3)} |`)
  }
  out.push('')
  out.push(`## Replay of a ${REPLAY_MB === 1024 ? '1 GiB' : `${REPLAY_MB} MiB (scaled down from 1 GiB with BENCH_SPOOL_REPLAY_MB)`} backlog into fluent-sink`, '')
  out.push('| records (medium) | on disk | replay time | MiB/s | events/s | process CPU µs/event | filling it took |')
  out.push('|---:|---:|---:|---:|---:|---:|---:|')
  out.push(
    `| ${rep.records.toLocaleString('en-US')} | ${(rep.diskBytes / 2 ** 20).toFixed(0)} MiB | ${rep.seconds.toFixed(1)} s | ${rep.mibPerSecond.toFixed(0)} | ${rep.eventsPerSecond.toLocaleString('en-US')} | ${rep.procCpuUsPerEvent.toFixed(3)} | ${rep.fillSeconds.toFixed(1)} s |`,
  )
  out.push(
    '',
    `Replay time: from the replaying process's start (before its client is made) until the sink has counted every record; the segment files were just written, so they are read from the page cache (a replay after a machine restart reads the device). Without acks, as in the throughput runs. Segment bytes left after the replay: ${rep.leftAfter}.`,
    '',
  )
  return out.join('\n')
}

async function main() {
  const started = new Date().toISOString()
  const loadStart = loadavg().map((l) => l.toFixed(1)).join(' ')
  const fsLine = spawnSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).stdout.split('\n')[1]?.split(/\s+/)[1] ?? '?'
  const sink = await Sink.start(root, 1)
  const runs: Run[] = []
  let disk: Awaited<ReturnType<typeof diskPerRecord>>[] = []
  let rep!: Awaited<ReturnType<typeof replay>>
  try {
    for (let round = 0; round < REPEATS; round++) {
      for (const shape of SHAPES) {
        for (const c of CONTENDERS) {
          const r = await throughput(sink, shape, c, round)
          runs.push(r)
          process.stderr.write(`round ${round} ${shape} ${c.id}: ${r.eventsPerSecond} events/s, ${r.procCpuUsPerEvent.toFixed(3)} µs process CPU/event, ${r.mainCpuUsPerEvent.toFixed(3)} µs main/event\n`)
        }
      }
    }
    disk = [await diskPerRecord('small'), await diskPerRecord('medium')]
    rep = await replay(sink)
  } finally {
    await sink.stop()
  }
  const meta = { started, loadStart, loadEnd: loadavg().map((l) => l.toFixed(1)).join(' '), fs: `${tmpdir()} (${fsLine})` }
  const dir = join(benchDir, 'results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'spool.json'), JSON.stringify({ meta, runs, disk, replay: rep, replayMiB: REPLAY_MB }, null, 2) + '\n')
  writeFileSync(join(dir, 'spool.md'), markdown(runs, disk, rep, meta) + '\n')
  process.stderr.write('wrote bench/results/spool.{json,md}\n')
}

await main()
