/**
 * The HTTP load generator of bench/service.ts: keep-alive connections on raw sockets, one request in
 * flight per connection, either open-loop at a fixed rate or closed-loop as fast as the service
 * answers (saturation).
 *
 * Paired phases: the service logs only the requests whose path starts with `/log`. A measurement
 * alternates short phases of plain and logged requests to the same process (PHASE_MS each), and sums
 * each kind's CPU, requests and latencies over its phases. On this shared machine the load of other
 * processes moves a whole run's CPU per request by several µs (they compete for the caches and the
 * core's other hardware thread); phases a fraction of a second apart see the same load, so the
 * difference between the two kinds, which is what logging adds, keeps its sign and size where whole
 * runs of different processes did not. CPU comes from the scheduler's own account, in ns
 * (`/proc/<pid>/task/<tid>/schedstat`: the main thread, and the sum over every thread for the whole
 * process); `/proc/<pid>/stat` reports the same account in 10 ms ticks, too coarse for phases of a
 * few thousand requests.
 *
 * Why not autocannon: its `overallRate` is a per-connection quota per second (each connection sends
 * back to back until its quota is used up, then waits for the next second), so a "fixed rate" is a
 * burst at saturation followed by idle time; its latency histogram records whole milliseconds, where a
 * logged request's added latency is microseconds; and it has no way to alternate two kinds of
 * request in phases. Here, at a fixed rate, a 1 ms timer sends whatever the clock says is due
 * (rate / 1000 requests per tick: the arrival pattern the service sees), and latency is taken per
 * request with `performance.now()` from the write to the last byte of its response.
 */
import net from 'node:net'
import { readFileSync, readdirSync } from 'node:fs'

const request = (path: string) =>
  Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: service-bench/1 (Linux x86_64)\r\nAccept: application/json\r\n\r\n`)
/** Plain and logged requests: the same length, so the service parses the same bytes. */
const REQUESTS = [request('/api/v1/orders/123?page=2'), request('/log/v1/orders/123?page=2')]
/** Each phase of one kind of request lasts this long; a measurement alternates the kinds. */
export const PHASE_MS = Number(process.env.SERVICE_PHASE_MS ?? 250)

/** CPU of every thread of `pid` and of its main thread, ns (the scheduler's account). */
export function threadsCpuNs(pid: number): { process: number; main: number } {
  let sum = 0
  let main = 0
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      sum += ns
      if (tid === String(pid)) main = ns
    } catch {
      // the thread ended meanwhile
    }
  }
  return { process: sum, main }
}

/** utime + stime of a process or one thread (`/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat`), in µs. */
export function procCpuUs(path: string): number {
  const stat = readFileSync(path, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 14 and 15 (utime, stime) in clock ticks; USER_HZ is 100 on Linux.
  return (Number(f[11]) + Number(f[12])) * 10_000
}

/** System-wide busy CPU (all cores) in µs, from /proc/stat (clock ticks of 10 ms). */
export function systemBusyUs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
  return (f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]) * 10_000
}

/** CPU of the processes measured here (the service, this process, the sink), in µs. */
function ownUs(pids: number[]): number {
  let sum = 0
  for (const pid of pids) {
    try {
      sum += procCpuUs(`/proc/${pid}/stat`)
    } catch {
      // gone
    }
  }
  return sum
}

/**
 * Waits (at most `maxMs`) until processes other than `pids` use less than `cores` over 300 ms: the
 * machine is shared, and a run measured while another agent compiles measures that compile.
 * Returns the other load last seen, in cores.
 */
export async function quiet(pids: number[], maxMs: number, cores = 0.3): Promise<number> {
  const until = Date.now() + maxMs
  let other = NaN
  do {
    const s0 = systemBusyUs()
    const o0 = ownUs(pids)
    await sleep(300)
    other = (systemBusyUs() - s0 - (ownUs(pids) - o0)) / 300_000
    if (other < cores) break
  } while (Date.now() < until)
  return other
}

/** One kind of request (plain or logged) over the phases of a measurement. */
export interface Window {
  /** Responses completed during this kind's phases. */
  requests: number
  seconds: number
  /** Service CPU during this kind's phases, µs: every thread, and the main thread alone. */
  processUs: number
  mainUs: number
  /** Latency of this kind's requests sent while measuring, µs. */
  p50Us: number
  p99Us: number
  errors: number
  /** Cores used by other processes (not the service, the load generator or the sink) meanwhile. */
  otherCores: number
}

interface Conn {
  sock: net.Socket
  sentAt: number
  got: number
  /** The kind of the request in flight (0 plain, 1 logged), or -1 if it is not measured. */
  kind: number
}

/** Paired measurement: the plain and the logged requests of one process. */
export interface Pair {
  plain: Window
  logged: Window
}

function percentile(xs: Float64Array, n: number, q: number): number {
  if (n === 0) return NaN
  const s = xs.subarray(0, n).sort()
  return s[Math.min(n - 1, Math.floor(q * n))]
}

export class Load {
  readonly #port: number
  readonly #pid: number
  #conns: Conn[] = []
  #idle: Conn[] = []
  #responseLength = 0
  #closedLoop = false
  #sending = false
  #backlog = 0
  /** The kind of request sent now (0 plain, 1 logged). */
  #kind = 0
  /** Measuring: latencies are kept and completions counted. */
  #measuring = false
  #done = 0
  readonly #lat = [new Float64Array(1 << 20), new Float64Array(1 << 20)]
  readonly #nLat = [0, 0]
  #errors = 0
  #inFlight = 0
  readonly #others: number[]

  /** `others`: the other processes of the measurement (the sink), left out of the "other load". */
  constructor(port: number, pid: number, others: number[] = []) {
    this.#port = port
    this.#pid = pid
    this.#others = [process.pid, ...others]
  }

  /** Opens `n` connections and learns the (fixed) length of a response from a first request. */
  async open(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const sock = net.connect(this.#port, '127.0.0.1')
      sock.setNoDelay(true)
      await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject))
      this.#conns.push({ sock, sentAt: 0, got: 0, kind: -1 })
    }
    const first = this.#conns[0].sock
    this.#responseLength = await new Promise<number>((resolve, reject) => {
      let buf = Buffer.alloc(0)
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const head = buf.subarray(0, end).toString('latin1')
        const m = /content-length: (\d+)/i.exec(head)
        if (!head.startsWith('HTTP/1.1 200') || !m) return reject(new Error(`unexpected response: ${head}`))
        const total = end + 4 + Number(m[1])
        if (buf.length < total) return
        first.off('data', onData)
        resolve(total)
      }
      first.on('data', onData)
      first.write(REQUESTS[0])
    })
    for (const c of this.#conns) {
      c.sock.on('data', (d: Buffer) => this.#onData(c, d))
      c.sock.on('error', () => this.#errors++)
      this.#idle.push(c)
    }
  }

  #onData(c: Conn, d: Buffer): void {
    // One request in flight per connection, and every response has the same length (the Date
    // header is fixed-width), so counting bytes finds the end of each response.
    if (c.got === 0 && d.toString('latin1', 0, 12) !== 'HTTP/1.1 200') this.#errors++
    c.got += d.length
    if (c.got < this.#responseLength) return
    if (c.got > this.#responseLength) this.#errors++
    c.got = 0
    this.#inFlight--
    const k = c.kind
    if (k >= 0 && this.#nLat[k] < this.#lat[k].length) this.#lat[k][this.#nLat[k]++] = (performance.now() - c.sentAt) * 1000
    this.#done++
    if (!this.#sending) return void this.#idle.push(c)
    if (this.#closedLoop) return this.#send(c)
    if (this.#backlog > 0) {
      this.#backlog--
      return this.#send(c)
    }
    this.#idle.push(c)
  }

  #send(c: Conn): void {
    c.kind = this.#measuring ? this.#kind : -1
    this.#inFlight++
    c.sentAt = performance.now()
    c.sock.write(REQUESTS[this.#kind])
  }

  #request(): void {
    const c = this.#idle.pop()
    if (c === undefined) this.#backlog++
    else this.#send(c)
  }

  /** Fixed rate: `warmMs` unmeasured (both kinds in turn), then `windowMs` of measured phases. */
  async fixed(rate: number, warmMs: number, windowMs: number): Promise<Pair> {
    this.#closedLoop = false
    this.#sending = true
    const t0 = performance.now()
    let sent = 0
    let timer: NodeJS.Timeout | undefined
    const tick = () => {
      const due = Math.floor(((performance.now() - t0) * rate) / 1000)
      while (sent < due) {
        sent++
        this.#request()
      }
      timer = setTimeout(tick, 1)
    }
    tick()
    try {
      return await this.#phases(warmMs, windowMs)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Saturation: every connection sends its next request as soon as its response arrived. */
  async saturate(warmMs: number, windowMs: number): Promise<Pair> {
    this.#closedLoop = true
    this.#sending = true
    for (const c of this.#idle.splice(0)) this.#send(c)
    return this.#phases(warmMs, windowMs)
  }

  async #phases(warmMs: number, windowMs: number): Promise<Pair> {
    // Warm-up: both kinds in turn, so the logging path is compiled before it is measured.
    for (let t = 0; t < warmMs; t += PHASE_MS) {
      this.#kind ^= 1
      await sleep(Math.min(PHASE_MS, warmMs - t))
    }
    const totals = [0, 1].map(() => ({ requests: 0, ms: 0, processNs: 0, mainNs: 0 }))
    this.#nLat[0] = this.#nLat[1] = 0
    const errors0 = this.#errors
    const s0 = systemBusyUs()
    const o0 = ownUs(this.#others)
    const w0 = performance.now()
    const n = Math.max(2, 2 * Math.round(windowMs / PHASE_MS / 2))
    let serviceNs = 0
    for (let i = 0; i < n; i++) {
      // Plain first in even pairs, logged first in odd ones: neither kind always follows the other.
      this.#kind = (i + (i >> 1)) & 1
      this.#measuring = true
      const c0 = threadsCpuNs(this.#pid)
      const d0 = this.#done
      const p0 = performance.now()
      await sleep(PHASE_MS)
      const c1 = threadsCpuNs(this.#pid)
      const t = totals[this.#kind]
      t.requests += this.#done - d0
      t.ms += performance.now() - p0
      t.processNs += Math.max(0, c1.process - c0.process)
      t.mainNs += c1.main - c0.main
      serviceNs += Math.max(0, c1.process - c0.process)
    }
    this.#measuring = false
    const seconds = (performance.now() - w0) / 1000
    const otherCores = (systemBusyUs() - s0 - (ownUs(this.#others) - o0) - serviceNs / 1000) / (seconds * 1e6)
    // Stop, and let what is in flight come back (its latency counts if it was sent while measuring).
    this.#sending = false
    this.#backlog = 0
    const until = Date.now() + 5000
    while (this.#inFlight > 0 && Date.now() < until) await sleep(2)
    const errors = this.#errors - errors0 + (this.#inFlight > 0 ? this.#inFlight : 0)
    const window = (k: number): Window => ({
      requests: totals[k].requests,
      seconds: totals[k].ms / 1000,
      processUs: totals[k].processNs / 1000,
      mainUs: totals[k].mainNs / 1000,
      p50Us: percentile(this.#lat[k], this.#nLat[k], 0.5),
      p99Us: percentile(this.#lat[k], this.#nLat[k], 0.99),
      errors,
      otherCores,
    })
    return { plain: window(0), logged: window(1) }
  }

  close(): void {
    for (const c of this.#conns) c.sock.destroy()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
