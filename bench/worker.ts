/**
 * One benchmark run in its own process: one contender, one record shape, one phase.
 *
 * The driver (bench/index.ts) compiles this file with oxc and runs it as `node --input-type=module
 * --eval`, so the child carries no TypeScript loader (the loader's hooks thread costs ~30 MB of RSS and
 * some CPU, which would be charged to every contender). Its top level imports Node built-ins only; each
 * contender's library is imported when it is chosen, so a child loads nothing but its own client.
 *
 * Config comes in the BENCH_CHILD environment variable (JSON, see ChildConfig); the result goes to
 * stdout as one line `@@BENCH {json}`. Everything else the client libraries print is passed through.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'

// ---------------------------------------------------------------------------------------------------
// Record shapes (shared with crossing.ts and the driver)

export type ShapeName = 'small' | 'medium' | 'large'
export const SHAPES: readonly ShapeName[] = ['small', 'medium', 'large']

/** 64 KiB of deterministic pseudo-random text; large records take a different 1 KiB window of it. */
const POOL = (() => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/=+()[]{}'
  let seed = 0x2545f491
  let s = ''
  for (let i = 0; i < 64 * 1024; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    s += alphabet[(seed >>> 16) % alphabet.length]
  }
  return s
})()
const KIB = 1024
const POOL_WINDOWS = (POOL.length - KIB) >>> 0

function payload(i: number): string {
  return POOL.slice((i * 7919) % POOL_WINDOWS, ((i * 7919) % POOL_WINDOWS) + KIB)
}

/** A fresh object per event, as an application builds one per log call. */
export const MAKERS: Record<ShapeName, (i: number) => object> = {
  small: (i) => ({ level: 'info', msg: 'hello world', n: i, user: 'u123', ok: true }),
  medium: (i) => ({
    level: 'info',
    msg: 'request completed',
    n: i,
    user: 'u123',
    ok: true,
    service: 'checkout-api',
    host: 'ip-10-0-3-17',
    region: 'eu-west-1',
    pid: 4242,
    status: 200,
    method: 'POST',
    path: '/api/v1/orders',
    latencyMs: 12.75,
    bytes: 18234,
    requestId: 'req-7f3c9a1e-2b4d',
    ip: '203.0.113.42',
    ua: 'Mozilla/5.0 (X11; Linux x86_64)',
    cached: false,
    ctx: { tenant: 'acme', plan: 'pro', shard: 7, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
    tags: ['orders', 'payments', 'eu', 'canary'],
  }),
  // 5 small fields + one 1 KiB string; the string differs per event so that gzip sees varied data.
  large: (i) => ({ level: 'info', msg: 'hello world', n: i, user: 'u123', ok: true, payload: payload(i) }),
}

// ---------------------------------------------------------------------------------------------------
// Contenders

export type Scenario = 'plain' | 'ack' | 'gzip' | 'tls'
export type Kind = 'native' | 'js' | 'lean' | 'idle'

export interface ContenderInfo {
  id: string
  label: string
  /** For the chart. */
  short: string
  scenario: Scenario
  kind: Kind
  /** Left out of BENCH_QUICK runs. */
  full?: boolean
}

/** Every contender the driver can run, in display order. */
export const CONTENDERS: readonly ContenderInfo[] = [
  { id: 'native', label: 'fluent-native (PackedForward)', short: 'fluent-native', scenario: 'plain', kind: 'native' },
  // Another built checkout (BENCH_BASELINE=<dir>), to compare two builds in one run; only when asked for.
  { id: 'native-base', label: 'fluent-native, baseline build', short: 'fluent-native (base)', scenario: 'plain', kind: 'native' },
  { id: 'org-packed', label: '@fluent-org/logger default (PackedForward)', short: '@fluent-org default', scenario: 'plain', kind: 'js', full: true },
  { id: 'org-forward', label: '@fluent-org/logger Forward', short: '@fluent-org Forward', scenario: 'plain', kind: 'js' },
  { id: 'fl-message', label: 'fluent-logger default (Message)', short: 'fluent-logger Message', scenario: 'plain', kind: 'js' },
  { id: 'fl-packed', label: 'fluent-logger PackedForward', short: 'fluent-logger Packed', scenario: 'plain', kind: 'js', full: true },
  { id: 'lean', label: 'lean msgpackr client (30 lines)', short: 'lean msgpackr (ref.)', scenario: 'plain', kind: 'lean' },
  { id: 'native-ack', label: 'fluent-native requireAck', short: 'fluent-native ack', scenario: 'ack', kind: 'native' },
  { id: 'org-ack', label: '@fluent-org/logger PackedForward + ack', short: '@fluent-org ack', scenario: 'ack', kind: 'js' },
  { id: 'fl-packed-ack', label: 'fluent-logger PackedForward + ack', short: 'fluent-logger Packed+ack', scenario: 'ack', kind: 'js', full: true },
  { id: 'native-gzip', label: 'fluent-native gzip', short: 'fluent-native gzip', scenario: 'gzip', kind: 'native' },
  { id: 'org-gzip', label: '@fluent-org/logger CompressedPackedForward', short: '@fluent-org gzip', scenario: 'gzip', kind: 'js' },
  { id: 'fl-gzip', label: 'fluent-logger CompressedPackedForward', short: 'fluent-logger gzip', scenario: 'gzip', kind: 'js', full: true },
  // TLS 1.3 to the sink's TLS listener (test-only certificates in __test__/fixtures/tls).
  { id: 'native-tls', label: 'fluent-native TLS 1.3', short: 'fluent-native TLS', scenario: 'tls', kind: 'native' },
  { id: 'org-tls', label: '@fluent-org/logger Forward, TLS 1.3', short: '@fluent-org TLS', scenario: 'tls', kind: 'js' },
]
export const IDLE: ContenderInfo = { id: 'idle', label: 'idle loop (emit does nothing)', short: 'idle loop (ref.)', scenario: 'plain', kind: 'idle' }
/**
 * The application's own share of a paced run: records are built as for every contender and stored
 * in a module variable, so the optimizer cannot drop the allocation, then left to the GC. Its loop
 * delay over the idle loop is what building 200k objects a second costs, before any logging.
 */
export const BUILD: ContenderInfo = { id: 'build', label: 'records built, not sent', short: 'build only (ref.)', scenario: 'plain', kind: 'idle' }
let built: object | undefined
/**
 * A stand-in for a logger that costs only CPU on the main thread: records are built (as BUILD) and
 * each call then busy-waits `spinNs` (ChildConfig; perf.ts passes fluent-native's measured
 * main-thread ns per record). No thread, socket or allocation of its own: its loop delay over the
 * build-only loop is what that much synchronous work per record costs the loop by itself.
 */
export const SPIN: ContenderInfo = {
  id: 'spin',
  label: "records built, then a busy wait of fluent-native's main-thread CPU per record",
  short: 'CPU stand-in (ref.)',
  scenario: 'plain',
  kind: 'idle',
}
/** The busy work's running value, kept so that the optimizer cannot drop the loop. */
let spun = 0

/** `iters` steps of busy work: the same loop is timed by `spinRate` and run per record. */
function spin(iters: number): void {
  let x = spun
  for (let i = 0; i < iters; i++) x = (Math.imul(x, 1103515245) + 12345) | 0
  spun = x
}

/** Busy-work iterations per ns on this thread, measured once (about 50 ms). */
function spinRate(): number {
  let iters = 1 << 16
  for (;;) {
    const t0 = process.cpuUsage()
    spin(iters)
    const us = process.cpuUsage(t0)
    const ns = (us.user + us.system) * 1000
    if (ns >= 50e6) return iters / ns
    iters *= 2
  }
}

function spinner(spinNs: number): Client {
  const iters = Math.max(1, Math.round(spinNs * spinRate()))
  return {
    emit(record) {
      built = record
      spin(iters)
    },
    emitLast() {},
    async finish() {
      return { last: built === undefined ? 0 : 1, spinNs, itersPerRecord: iters, spun: spun & 1 }
    },
    async close() {},
  }
}

interface Client {
  emit(record: object): void
  /**
   * Backpressure for clients with a bounded buffer: records refused as "buffer full" wait here and are
   * re-emitted, in order, before anything newer, so a run measures delivery without losing records.
   * `relieve` waits until the backlog is empty; `retry` makes one attempt without waiting.
   */
  relieve?(): Promise<void>
  retry?(): void
  /** The last event of a run: clients that only report completion per event get their callback here. */
  emitLast(record: object): void
  /** Resolves once every event is written (acknowledged, with acks); what it returns goes into the result. */
  finish(): Promise<Record<string, unknown>>
  /** Closes connections; not timed. */
  close(): Promise<void>
}

const TAG = 'bench.app'

/** Client side of the TLS scenario: trust the test CA, verify `localhost`, TLS 1.3 only. */
function tlsOptions(benchDir: string): { ca: Buffer; servername: string; minVersion: 'TLSv1.3' } {
  return { ca: readFileSync(join(benchDir, '..', '__test__', 'fixtures', 'tls', 'ca.pem')), servername: 'localhost', minVersion: 'TLSv1.3' }
}

/** Resolves package specifiers and the project's own files from bench/, wherever this code runs. */
function importer(benchDir: string): (spec: string) => Promise<any> {
  const req = createRequire(join(benchDir, 'worker.ts'))
  return (spec) => import(pathToFileURL(req.resolve(spec)).href)
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(t))
}

async function nativeClient(imp: ReturnType<typeof importer>, host: string, port: number, opts: object, from = '../index.js'): Promise<Client> {
  const { FluentClient } = await imp(from)
  const client = new FluentClient({ host, port, ...opts })
  let errors = 0
  let refused = 0
  const errorCodes = new Set<string>()
  client.on('error', (e: { code?: string }) => {
    errors++
    errorCodes.add(String(e?.code))
  })
  // fluent-native connects on the first emit (as fluent-logger does); that connect falls inside the run.
  // emit() answers synchronously whether the record fit in the buffer; a producer that must not lose
  // records keeps the refused ones and offers them again (this is the documented use of that answer).
  const backlog: object[] = []
  let waits = 0
  const retry = (): void => {
    let k = 0
    while (k < backlog.length && client.emit(TAG, backlog[k])) k++
    if (k > 0) backlog.splice(0, k)
  }
  const emit = (r: object): void => {
    if (backlog.length > 0) retry()
    if (backlog.length > 0 || !client.emit(TAG, r)) {
      if (backlog.length === 0) refused++
      backlog.push(r)
    }
  }
  const relieve = async (): Promise<void> => {
    while (backlog.length > 0) {
      retry()
      if (backlog.length > 0) {
        waits++
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
  }
  return {
    emit,
    emitLast: emit,
    relieve,
    retry,
    async finish() {
      await relieve()
      const report = await client.close({ timeoutMs: 60_000 })
      const s = client.stats()
      return {
        report,
        refused,
        backpressureWaits: waits,
        errors,
        errorCodes: [...errorCodes],
        batches: s.batchesSent,
        reconnects: s.reconnects,
        retries: s.retries,
      }
    },
    async close() {},
  }
}

async function orgClient(
  imp: ReturnType<typeof importer>,
  host: string,
  port: number,
  opts: object,
  socket: object = {},
): Promise<Client> {
  const { FluentClient } = await imp('@fluent-org/logger')
  const client = new FluentClient(null, { socket: { host, port, ...socket }, disableAutoconnect: true, ...opts })
  let errors = 0
  const errorCodes = new Set<string>()
  client.socketOn('error', (e: Error) => {
    errors++
    if (errorCodes.size < 5) errorCodes.add(String(e?.message ?? e))
  })
  await client.connect()
  // emit() returns a promise per event; the library attaches its own catch, so ignoring it is safe.
  const emit = (r: object): void => {
    client.emit(TAG, r)
  }
  return {
    emit,
    emitLast: emit,
    async finish() {
      await client.flush()
      await client.waitForPending()
      return { errors, errorCodes: [...errorCodes], sendQueueLength: client.sendQueueLength }
    },
    async close() {
      await client.disconnect()
    },
  }
}

async function flClient(imp: ReturnType<typeof importer>, host: string, port: number, opts: object): Promise<Client> {
  const mod = await imp('fluent-logger')
  const logger = mod.default ?? mod
  const quiet = { info() {}, error() {}, warn() {}, debug() {} }
  const sender = logger.createFluentSender(null, { host, port, internalLogger: quiet, ...opts })
  let errors = 0
  const errorCodes = new Set<string>()
  sender.on('error', (e: Error) => {
    errors++
    if (errorCodes.size < 5) errorCodes.add(String(e?.message ?? e))
  })
  let done: Promise<void> | undefined
  return {
    emit(r) {
      sender.emit(TAG, r)
    },
    // fluent-logger reports completion per event through a callback; the last event's callback fires
    // once everything before it is written (or acknowledged), since its queue is sent in order.
    emitLast(r) {
      done = new Promise((resolve, reject) => {
        sender.emit(TAG, r, (err?: Error) => (err ? reject(err) : resolve()))
      })
    },
    async finish() {
      await done
      return { errors, errorCodes: [...errorCodes] }
    },
    async close() {
      await new Promise<void>((resolve) => sender.end(null, null, () => resolve()))
    },
  }
}

/**
 * What plain JS can do: PackedForward with msgpackr, one write per event-loop turn or per MiB.
 * No acks, no reconnects, no buffer bound: a reference point, not a package.
 */
async function leanClient(imp: ReturnType<typeof importer>, host: string, port: number): Promise<Client> {
  const { Packr } = await imp('msgpackr')
  const packr = new Packr({ useRecords: false })
  const sock: Socket = connect({ host, port })
  sock.setNoDelay(true)
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject))
  const tag = packr.pack(TAG) as Buffer
  let parts: Buffer[] = []
  let bytes = 0
  let count = 0
  let scheduled = false
  let lastWrite: Promise<void> = Promise.resolve()
  const flush = (): void => {
    scheduled = false
    if (count === 0) return
    const head = Buffer.allocUnsafe(1 + tag.length + 5)
    head[0] = 0x93 // [tag, entries, options]
    tag.copy(head, 1)
    head[1 + tag.length] = 0xc6 // bin 32
    head.writeUInt32BE(bytes, 2 + tag.length)
    const chunk = Buffer.concat([head, ...parts, packr.pack({ size: count })])
    lastWrite = new Promise((resolve, reject) => sock.write(chunk, (e) => (e ? reject(e) : resolve())))
    parts = []
    bytes = 0
    count = 0
  }
  const emit = (r: object): void => {
    const entry = packr.pack([Math.floor(Date.now() / 1000), r]) as Buffer
    parts.push(entry)
    bytes += entry.length
    count++
    if (bytes >= 1 << 20) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return {
    emit,
    emitLast: emit,
    async finish() {
      flush()
      await lastWrite
      return {}
    },
    async close() {
      await new Promise<void>((resolve) => sock.end(resolve))
    },
  }
}

async function makeClient(id: string, benchDir: string, host: string, port: number, spinNs = 0): Promise<Client> {
  const imp = importer(benchDir)
  // Ack timeouts are raised to fluent-native's 30 s default so that a slow ack under load is measured,
  // not turned into a loss by a 500 ms default.
  switch (id) {
    case 'native':
      return nativeClient(imp, host, port, {})
    case 'native-base':
      if (!process.env.BENCH_BASELINE) throw new Error('native-base needs BENCH_BASELINE=<dir of a built checkout>')
      return nativeClient(imp, host, port, {}, join(process.env.BENCH_BASELINE, 'index.js'))
    case 'native-ack':
      return nativeClient(imp, host, port, { requireAck: true })
    case 'native-gzip':
      return nativeClient(imp, host, port, { compress: 'gzip' })
    case 'native-tls':
      return nativeClient(imp, host, port, { tls: tlsOptions(benchDir) })
    case 'org-tls':
      return orgClient(imp, host, port, { eventMode: 'Forward' }, { tls: tlsOptions(benchDir) })
    case 'org-packed':
      return orgClient(imp, host, port, {})
    case 'org-forward':
      return orgClient(imp, host, port, { eventMode: 'Forward' })
    case 'org-ack':
      return orgClient(imp, host, port, { ack: { ackTimeout: 30_000 } })
    case 'org-gzip':
      return orgClient(imp, host, port, { eventMode: 'CompressedPackedForward' })
    case 'fl-message':
      return flClient(imp, host, port, {})
    case 'fl-packed':
      return flClient(imp, host, port, { eventMode: 'PackedForward' })
    case 'fl-packed-ack':
      return flClient(imp, host, port, {
        eventMode: 'PackedForward',
        requireAckResponse: true,
        ackResponseTimeout: 30_000,
      })
    case 'fl-gzip':
      return flClient(imp, host, port, { eventMode: 'CompressedPackedForward' })
    case 'lean':
      return leanClient(imp, host, port)
    case 'build':
      return {
        emit(record) {
          built = record
        },
        emitLast() {},
        async finish() {
          return { last: built === undefined ? 0 : 1 }
        },
        async close() {},
      }
    case 'spin':
      if (!(spinNs > 0)) throw new Error('the spin contender needs spinNs (BENCH_SPIN_NS)')
      return spinner(spinNs)
    case 'idle':
      return {
        emit() {},
        emitLast() {},
        async finish() {
          return {}
        },
        async close() {},
      }
    default:
      throw new Error(`unknown contender ${id}`)
  }
}

// ---------------------------------------------------------------------------------------------------
// Measurements

export interface ChildConfig {
  contender: string
  shape: ShapeName
  phase: 'throughput' | 'paced'
  host: string
  port: number
  benchDir: string
  /** throughput: events to send. */
  events: number
  /** throughput: events per event-loop turn. */
  chunk: number
  /** For the foreign-load check: CPU that is neither this process's nor the sink's. */
  sinkPid: number
  /** paced: target events/s, warm-up and measured time. */
  rate: number
  warmupMs: number
  measureMs: number
  /**
   * paced: CPU placement (Linux, 2+ CPUs). The main thread alone on CPU 0; every other thread of this
   * process (the writer, V8's helpers) on CPU 1, where the driver has already put the sink and itself.
   */
  pin?: boolean
  /** The spin contender: main-thread ns to busy-wait per record. */
  spinNs?: number
}

/**
 * Places this process's threads for a `pin` run: all of them on CPU 1, then the main thread (its tid
 * is the pid) on CPU 0. It runs after the client is made (fluent-native starts its writer thread in
 * the constructor); threads started later inherit their creator's CPU. Returns what went wrong, if
 * anything, for the row's notes.
 */
function pinThreads(): string | undefined {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
    return undefined
  } catch (e) {
    return `taskset failed: ${(e as Error).message.split('\n')[0]}`
  }
}

/** Main-thread CPU time in microseconds (Linux: the main thread's tid is the pid), or NaN. */
function mainThreadCpuUs(): number {
  try {
    const text = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8')
    return Number(text.split(' ')[0]) / 1000
  } catch {
    return NaN
  }
}

/** System-wide busy CPU time (all cores) in microseconds, from /proc/stat, or NaN. */
export function systemBusyUs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
    const busy = f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]
    return busy * CLOCK_TICK_US
  } catch {
    return NaN
  }
}

/** CPU time of another process (user + system) in microseconds, or NaN. */
export function pidCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * CLOCK_TICK_US
  } catch {
    return NaN
  }
}

/** USER_HZ is 100 on every Linux ABI Node supports. */
const CLOCK_TICK_US = 10_000

/** CPU used by processes other than this one and the sink during a window, in cores. */
class Foreign {
  readonly #sinkPid: number
  #sys = 0
  #sink = 0
  #own = 0
  #at = 0
  constructor(sinkPid: number) {
    this.#sinkPid = sinkPid
  }
  start(): void {
    this.#sys = systemBusyUs()
    this.#sink = pidCpuUs(this.#sinkPid)
    this.#own = processCpuUs()
    this.#at = performance.now()
  }
  /** Sink CPU and foreign CPU in cores over the window. */
  stop(): { sinkCores: number; foreignCores: number } {
    const wallUs = (performance.now() - this.#at) * 1000
    const sink = pidCpuUs(this.#sinkPid) - this.#sink
    const sys = systemBusyUs() - this.#sys
    const own = processCpuUs() - this.#own
    return { sinkCores: sink / wallUs, foreignCores: Math.max(0, sys - sink - own) / wallUs }
  }
}

function processCpuUs(): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now()
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function throughput(cfg: ChildConfig, client: Client): Promise<Record<string, unknown>> {
  const make = MAKERS[cfg.shape]
  const n = cfg.events
  const foreign = new Foreign(cfg.sinkPid)
  foreign.start()
  const elu0 = performance.eventLoopUtilization()
  const main0 = mainThreadCpuUs()
  const cpu0 = processCpuUs()
  const t0 = epochMs()
  const p0 = performance.now()
  let i = 0
  while (i < n - 1) {
    const end = Math.min(i + cfg.chunk, n - 1)
    for (; i < end; i++) client.emit(make(i))
    // Yield so that clients that write from the event loop can write.
    await turn()
    if (client.relieve) await client.relieve()
  }
  client.emitLast(make(i++))
  const emitMs = performance.now() - p0
  const extra = await client.finish()
  const doneMs = performance.now() - p0
  const main = mainThreadCpuUs() - main0
  const cpu = processCpuUs() - cpu0
  const elu = performance.eventLoopUtilization(elu0)
  return {
    ...foreign.stop(),
    emitted: i,
    t0,
    emitMs,
    doneMs,
    mainCpuUs: Number.isFinite(main) ? main : elu.utilization * doneMs * 1000,
    mainCpuSource: Number.isFinite(main) ? 'schedstat' : 'elu',
    procCpuUs: cpu,
    elu: elu.utilization,
    maxRssKiB: process.resourceUsage().maxRSS,
    client: extra,
  }
}

async function paced(cfg: ChildConfig, client: Client): Promise<Record<string, unknown>> {
  const make = MAKERS[cfg.shape]
  const rate = cfg.rate
  // At most 5 ms of backlog per tick: a client that cannot keep up shows it in the achieved rate.
  const maxBurst = Math.max(1, Math.round(rate / 200))
  const hist = monitorEventLoopDelay({ resolution: 1 })
  let emitted = 0
  let offered = 0
  let measured: {
    at: number
    emitted: number
    main: number
    cpu: number
    elu: ReturnType<typeof performance.eventLoopUtilization>
  } | null = null
  let result: Record<string, unknown> = {}
  const foreign = new Foreign(cfg.sinkPid)
  const pinError = cfg.pin ? pinThreads() : undefined
  const start = performance.now()
  const warmEnd = start + cfg.warmupMs
  const end = warmEnd + cfg.measureMs
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      const due = Math.floor(((now - start) * rate) / 1000)
      let k = due - offered
      offered = due
      if (k > maxBurst) k = maxBurst
      client.retry?.()
      for (let j = 0; j < k; j++) client.emit(make(emitted++))
      if (measured === null && now >= warmEnd) {
        hist.enable()
        foreign.start()
        measured = {
          at: now,
          emitted,
          main: mainThreadCpuUs(),
          cpu: processCpuUs(),
          elu: performance.eventLoopUtilization(),
        }
      }
      if (measured !== null && now >= end) {
        hist.disable()
        const wallMs = now - measured.at
        const main = mainThreadCpuUs() - measured.main
        const elu = performance.eventLoopUtilization(measured.elu).utilization
        result = {
          ...foreign.stop(),
          wallMs,
          achievedRate: ((emitted - measured.emitted) * 1000) / wallMs,
          loopP50Ms: hist.percentile(50) / 1e6,
          loopP99Ms: hist.percentile(99) / 1e6,
          loopMaxMs: hist.max / 1e6,
          loopMeanMs: hist.mean / 1e6,
          mainBusy: Number.isFinite(main) ? main / 1000 / wallMs : elu,
          mainCpuSource: Number.isFinite(main) ? 'schedstat' : 'elu',
          elu,
          procCpu: (processCpuUs() - measured.cpu) / 1000 / wallMs,
          pinned: cfg.pin === true && pinError === undefined,
          ...(pinError ? { pinError } : {}),
        }
        resolve()
        return
      }
      setTimeout(tick, 1)
    }
    setTimeout(tick, 1)
  })
  if (cfg.contender !== 'idle' && cfg.contender !== 'build' && cfg.contender !== 'spin') client.emitLast(make(emitted++))
  const extra = await client.finish()
  return { ...result, emitted, maxRssKiB: process.resourceUsage().maxRSS, client: extra }
}

function send(msg: object): void {
  // Synchronous, so the line is out before anything else happens.
  writeSync(1, `\n@@BENCH ${JSON.stringify(msg)}\n`)
}

async function main(cfg: ChildConfig): Promise<void> {
  let unhandled = 0
  process.on('unhandledRejection', () => unhandled++)
  const client = await makeClient(cfg.contender, cfg.benchDir, cfg.host, cfg.port, cfg.spinNs)
  const result = cfg.phase === 'throughput' ? await throughput(cfg, client) : await paced(cfg, client)
  send({ type: 'result', ...result, unhandledRejections: unhandled })
  await timeout(client.close(), 10_000, 'close').catch(() => undefined)
  // Let the sockets finish closing: exiting right after fluent-logger's end() makes the sink see a
  // connection error although every record arrived.
  await new Promise((r) => setTimeout(r, 150))
  // Some clients keep timers or sockets alive; the run is over.
  process.exit(0)
}

if (process.env.BENCH_CHILD) {
  main(JSON.parse(process.env.BENCH_CHILD) as ChildConfig).catch((e: Error) => {
    send({ type: 'error', message: String(e?.stack ?? e) })
    process.exit(1)
  })
}
