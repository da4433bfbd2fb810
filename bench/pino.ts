/**
 * pino and winston routes to a Forward server, compared in one run (`npm run bench:pino`):
 *
 *   node --import @oxc-node/core/register bench/pino.ts
 *
 * Each contender × record shape runs in its own child process, one at a time, against the same
 * fluent-sink (pino-socket's raw TCP lines go to a line counter in this process instead). A run
 * counts only if the receiver counted every line. Per run:
 *   - main-thread CPU per line: the child's main thread (schedstat), from the first log call until
 *     every line arrived (so work a logger defers to later turns of the loop counts too);
 *   - whole-process CPU per delivered line: every thread of the child (pino's worker, our writer),
 *     plus the pino-fluentd process for that pipe;
 *   - delivered lines/s: lines / (last line counted by the receiver - first log call).
 * Ratios are against pino to /dev/null (the floor: the logger's own cost) and against the best
 * existing pino -> fluentd route. Writes results/pino.{json,md}.
 *
 * Environment: PINO_BENCH_LINES (default 100,000), PINO_BENCH_RUNS (default 3; the median run is
 * reported), PINO_BENCH_ONLY=id,id.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { once } from 'node:events'

import { Sink } from './sink.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const require = createRequire(import.meta.url)
const LINES = Number(process.env.PINO_BENCH_LINES ?? 100_000)
const RUNS = Number(process.env.PINO_BENCH_RUNS ?? 3)
const only = process.env.PINO_BENCH_ONLY?.split(',')
const DELIVERY_TIMEOUT_MS = 120_000

type Shape = 'small' | 'medium'
const SHAPES: Shape[] = ['small', 'medium']

/** What the child logs: small is a message and a counter; medium a request log line (pino-http-like). */
function logArgs(shape: Shape, i: number): [Record<string, unknown>, string] {
  if (shape === 'small') return [{ i }, 'hello world']
  return [
    {
      i,
      req: {
        id: i,
        method: i % 5 === 0 ? 'POST' : 'GET',
        url: `/api/v1/users/${i % 1000}/orders?page=${i % 7}`,
        headers: { host: 'api.example.com', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', accept: 'application/json' },
        remoteAddress: '10.0.3.17',
        remotePort: 40000 + (i % 20000),
      },
      res: { statusCode: i % 50 === 0 ? 500 : 200, headers: { 'content-type': 'application/json', 'content-length': 1234 } },
      responseTime: (i % 300) + 0.25,
    },
    'request completed',
  ]
}

interface Contender {
  id: string
  label: string
  logger: 'pino' | 'winston'
  /** Where its lines go: the Forward sink, the line counter, or nowhere (the floor). */
  receiver: 'sink' | 'lines' | 'none'
}

const CONTENDERS: Contender[] = [
  { id: 'pino-devnull', label: "pino → /dev/null (pino.destination: sonic-boom's defaults, a write per line; the floor)", logger: 'pino', receiver: 'none' },
  { id: 'pino-noop', label: "pino → a stream whose write() does nothing (pino's own cost alone)", logger: 'pino', receiver: 'none' },
  { id: 'pino-devnull-buffered', label: 'pino → /dev/null (sonic-boom, minLength 4096, async: a write per 4 KiB)', logger: 'pino', receiver: 'none' },
  { id: 'pino-destination', label: 'pino(fluent-native/pino destination())', logger: 'pino', receiver: 'sink' },
  { id: 'pino-transport', label: "pino.transport('fluent-native/pino')", logger: 'pino', receiver: 'sink' },
  { id: 'pino-socket', label: 'pino.transport(pino-socket), raw TCP lines', logger: 'pino', receiver: 'lines' },
  { id: 'pino-ffn', label: 'pino-abstract-transport + @fluent-org/logger (as @lukadriel/pino-fluent)', logger: 'pino', receiver: 'sink' },
  { id: 'pino-fluentd', label: 'pino to stdout, piped to the pino-fluentd CLI (fluent-logger)', logger: 'pino', receiver: 'sink' },
  { id: 'winston-devnull', label: 'winston → Stream(/dev/null) (the floor)', logger: 'winston', receiver: 'none' },
  { id: 'winston-native', label: 'winston + fluent-native/winston', logger: 'winston', receiver: 'sink' },
  { id: 'winston-fluent-logger', label: "winston + fluent-logger's winstonTransport", logger: 'winston', receiver: 'sink' },
]

interface ChildReport {
  mainUs: number
  processUs: number
  t0: number
}

interface Run {
  contender: string
  shape: Shape
  lines: number
  delivered: number
  mainNsPerLine: number
  totalNsPerLine: number
  linesPerSec: number | null
}

// ---------------------------------------------------------------- child

function mainThreadUs(): number {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000
}

function pidCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10_000
}

async function child(id: string, shape: Shape, lines: number, port: number, linePort: number): Promise<void> {
  const pino = require('pino')
  const winston = require('winston')
  let log: (i: number) => void
  if (id.startsWith('pino')) {
    let stream: unknown
    if (id === 'pino-devnull') stream = pino.destination('/dev/null')
    else if (id === 'pino-noop') stream = { write: (_line: string) => true }
    else if (id === 'pino-devnull-buffered') stream = pino.destination({ dest: '/dev/null', minLength: 4096, sync: false })
    else if (id === 'pino-destination') stream = require('../src/pino.js').destination({ port, tag: 'bench' })
    else if (id === 'pino-fluentd') stream = pino.destination(1)
    else {
      const targets: Record<string, unknown> = {
        'pino-transport': { target: require.resolve('../src/pino.js'), options: { port, tag: 'bench' } },
        'pino-socket': { target: 'pino-socket', options: { address: '127.0.0.1', port: linePort, mode: 'tcp' } },
        'pino-ffn': { target: join(benchDir, 'targets', 'pino-ffn.mjs'), options: { host: '127.0.0.1', port, tag: 'bench' } },
      }
      stream = pino.transport(targets[id])
      await once(stream as NodeJS.EventEmitter, 'ready')
    }
    const logger = pino({}, stream)
    log = (i) => {
      const [obj, msg] = logArgs(shape, i)
      logger.info(obj, msg)
    }
  } else {
    let transport: unknown
    if (id === 'winston-devnull') {
      transport = new winston.transports.Stream({ stream: require('node:fs').createWriteStream('/dev/null') })
    } else if (id === 'winston-native') {
      transport = new (require('../src/winston.js').FluentTransport)({ port, tag: 'bench' })
    } else {
      const Transport = require('fluent-logger').support.winstonTransport()
      transport = new Transport('bench', { host: '127.0.0.1', port, timeout: 3.0, reconnectInterval: 600000 })
    }
    const logger = winston.createLogger({ format: winston.format.json(), transports: [transport] })
    log = (i) => {
      const [obj, msg] = logArgs(shape, i)
      logger.info(msg, obj)
    }
  }
  // The driver says when every line arrived; the child stays until then (its CPU keeps counting).
  const done = new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()))
  const t0 = performance.timeOrigin + performance.now()
  const main0 = mainThreadUs()
  const cpu0 = process.cpuUsage()
  // Batches with a turn of the event loop in between, as a server logs between requests.
  for (let i = 0; i < lines; i += 1000) {
    for (let j = i; j < Math.min(lines, i + 1000); j++) log(j)
    await new Promise((resolve) => setImmediate(resolve))
  }
  process.stderr.write(`LOGGED\n`)
  await done
  const cpu = process.cpuUsage(cpu0)
  const report: ChildReport = { mainUs: mainThreadUs() - main0, processUs: cpu.user + cpu.system, t0 }
  process.stderr.write(`REPORT ${JSON.stringify(report)}\n`)
  process.exit(0)
}

// ---------------------------------------------------------------- driver

class LineCounter {
  count = 0
  readonly server = net.createServer((s) =>
    s.on('data', (d: Buffer) => {
      for (const b of d) if (b === 10) this.count++
    }),
  )
  port = 0
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as net.AddressInfo).port
  }
  async waitFor(n: number, timeoutMs: number): Promise<number> {
    const until = Date.now() + timeoutMs
    while (this.count < n && Date.now() < until) await new Promise((r) => setTimeout(r, 2))
    return this.count
  }
}

async function runOne(c: Contender, shape: Shape, sink: Sink, counter: LineCounter): Promise<Run> {
  await sink.reset()
  counter.count = 0
  const args = ['--import', '@oxc-node/core/register', fileURLToPath(import.meta.url), 'child', c.id, shape, String(LINES), String(sink.port), String(counter.port)]
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['pipe', c.id === 'pino-fluentd' ? 'pipe' : 'ignore', 'pipe'] })
  let pipeProc: ReturnType<typeof spawn> | undefined
  if (c.id === 'pino-fluentd') {
    const cli = require.resolve('pino-fluentd/pino-fluentd.js')
    // --trace-level trace: its default forwards only error and fatal lines.
    pipeProc = spawn(process.execPath, [cli, '--host', '127.0.0.1', '--port', String(sink.port), '--tag', 'bench', '--trace-level', 'trace'], {
      stdio: ['pipe', 'ignore', 'inherit'],
    })
    proc.stdout!.pipe(pipeProc.stdin!)
  }
  const lines = createInterface({ input: proc.stderr! })
  let report: ChildReport | undefined
  const logged = new Promise<void>((resolve) =>
    lines.on('line', (l) => {
      if (l === 'LOGGED') resolve()
      else if (l.startsWith('REPORT ')) report = JSON.parse(l.slice(7))
      else process.stderr.write(`[${c.id}] ${l}\n`)
    }),
  )
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  await logged
  let delivered = LINES
  let arrived = Date.now()
  if (c.receiver === 'sink') {
    delivered = (await sink.wait(LINES, DELIVERY_TIMEOUT_MS)).events
    arrived = performance.timeOrigin + performance.now()
  } else if (c.receiver === 'lines') {
    delivered = await counter.waitFor(LINES, DELIVERY_TIMEOUT_MS)
    arrived = performance.timeOrigin + performance.now()
  }
  const pipeUs = pipeProc?.pid === undefined ? 0 : pidCpuUs(pipeProc.pid)
  proc.stdin!.write('done\n')
  await exited
  pipeProc?.kill('SIGKILL')
  if (report === undefined) throw new Error(`${c.id}: no report`)
  return {
    contender: c.id,
    shape,
    lines: LINES,
    delivered,
    mainNsPerLine: (report.mainUs * 1000) / LINES,
    totalNsPerLine: ((report.processUs + pipeUs) * 1000) / Math.max(1, delivered),
    linesPerSec: c.receiver === 'none' ? null : delivered / ((arrived - report.t0) / 1000),
  }
}

function median(runs: Run[], key: 'mainNsPerLine'): Run {
  const sorted = [...runs].sort((a, b) => a[key] - b[key])
  return sorted[Math.floor(sorted.length / 2)]
}

async function driver(): Promise<void> {
  const sink = await Sink.start(root)
  const counter = new LineCounter()
  await counter.start()
  const contenders = CONTENDERS.filter((c) => !only || only.includes(c.id))
  const all: Run[] = []
  for (const shape of SHAPES) {
    for (let r = 0; r < RUNS; r++) {
      // Contenders interleaved within a repeat, so a busy spell of the machine hits them alike.
      for (const c of contenders) {
        const run = await runOne(c, shape, sink, counter)
        all.push(run)
        process.stderr.write(
          `${shape} ${c.id} run ${r + 1}: main ${run.mainNsPerLine.toFixed(0)} ns/line, total ${run.totalNsPerLine.toFixed(0)} ns/line, ${run.linesPerSec?.toFixed(0) ?? '-'} lines/s, delivered ${run.delivered}/${run.lines}\n`,
        )
      }
    }
  }
  await sink.stop()
  counter.server.close()
  const rows = SHAPES.flatMap((shape) =>
    contenders.map((c) => ({ c, shape, run: median(all.filter((x) => x.shape === shape && x.contender === c.id), 'mainNsPerLine') })),
  )
  const md: string[] = [
    `# pino and winston routes to a Forward server (${LINES.toLocaleString('en')} lines per run, median of ${RUNS} runs by main-thread CPU)`,
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} cores (${cpus()[0]?.model ?? '?'}) · receiver fluent-sink (pino-socket: a line counter) · \`node --import @oxc-node/core/register bench/pino.ts\``,
    '',
    'main = CPU of the logging thread per line, from the first log call until every line arrived; total = CPU of every thread of the process (and of the pino-fluentd process for that pipe) per delivered line.',
    '',
  ]
  const get = (shape: Shape, id: string) => rows.find((r) => r.shape === shape && r.c.id === id)?.run
  for (const logger of ['pino', 'winston'] as const) {
    for (const shape of SHAPES) {
      const floor = get(shape, `${logger}-devnull`)
      const buffered = logger === 'pino' ? get(shape, 'pino-devnull-buffered') : undefined
      const noop = logger === 'pino' ? get(shape, 'pino-noop') : undefined
      const best = logger === 'pino' ? get(shape, 'pino-ffn') : get(shape, 'winston-fluent-logger')
      md.push(`## ${logger}, ${shape} records`, '')
      md.push(`| route | delivered | main ns/line | main vs floor |${buffered ? ' main vs buffered floor | main over pino alone (ns) |' : ''} total ns/line | total vs ${logger === 'pino' ? 'pino-ffn' : 'fluent-logger'} | main vs ${logger === 'pino' ? 'pino-ffn' : 'fluent-logger'} | lines/s |`)
      md.push(`|---|---:|---:|---:|${buffered ? '---:|---:|' : ''}---:|---:|---:|---:|`)
      for (const { c, run } of rows.filter((r) => r.shape === shape && r.c.logger === logger)) {
        const ratio = (a: number, b: number | undefined) => (b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`)
        md.push(
          `| ${c.label} | ${run.delivered === run.lines ? 'all' : `${run.delivered}/${run.lines}`} | ${run.mainNsPerLine.toFixed(0)} | ${ratio(run.mainNsPerLine, floor?.mainNsPerLine)} |${buffered ? ` ${ratio(run.mainNsPerLine, buffered.mainNsPerLine)} | ${noop ? (run.mainNsPerLine - noop.mainNsPerLine).toFixed(0) : '-'} |` : ''} ${c.receiver === 'none' ? '-' : run.totalNsPerLine.toFixed(0)} | ${c.receiver === 'none' ? '-' : ratio(run.totalNsPerLine, best?.totalNsPerLine)} | ${ratio(run.mainNsPerLine, best?.mainNsPerLine)} | ${run.linesPerSec === null ? '-' : Math.round(run.linesPerSec).toLocaleString('en')} |`,
        )
      }
      md.push('')
    }
  }
  const failed = all.filter((r) => r.delivered !== r.lines)
  if (failed.length > 0) md.push(`**Runs that lost lines:** ${failed.map((r) => `${r.contender}/${r.shape} ${r.delivered}/${r.lines}`).join(', ')}`, '')
  const resultsDir = join(benchDir, 'results')
  mkdirSync(resultsDir, { recursive: true })
  const name = only || process.env.PINO_BENCH_LINES ? 'pino-quick' : 'pino'
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify({ lines: LINES, runs: all }, null, 2) + '\n')
  writeFileSync(join(resultsDir, `${name}.md`), md.join('\n'))
  process.stdout.write(md.join('\n') + '\n')
  if (failed.length > 0) process.exitCode = 1
}

if (process.argv[2] === 'child') {
  const [, , , id, shape, lines, port, linePort] = process.argv
  void child(id, shape as Shape, Number(lines), Number(port), Number(linePort))
} else {
  void driver()
}
