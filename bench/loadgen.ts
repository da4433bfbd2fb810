/**
 * The HTTP load generator of bench/service.ts: keep-alive connections on raw sockets, one request in
 * flight per connection, either open-loop at a fixed rate or closed-loop as fast as the service
 * answers (saturation). While a measurement window is open it samples the service's CPU from /proc
 * at both ends and records each request's latency.
 *
 * Why not autocannon: its `overallRate` is a per-connection quota per second (each connection sends
 * back to back until its quota is used up, then waits for the next second), so a "fixed rate" is a
 * burst at saturation followed by idle time, and its latency histogram records whole milliseconds;
 * a logged request's added latency is tens of microseconds. Here, at a fixed rate, a 1 ms timer sends
 * whatever the clock says is due (rate / 1000 requests per tick, the arrival pattern the service
 * sees), and latency is taken per request with `performance.now()` from the write to the last byte
 * of its response.
 */
import net from 'node:net'
import { readFileSync } from 'node:fs'

const REQUEST = Buffer.from(
  'GET /api/v1/orders/123?page=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: service-bench/1 (Linux x86_64)\r\nAccept: application/json\r\n\r\n',
)

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

export interface Window {
  /** Responses completed while the window was open. */
  requests: number
  seconds: number
  /** Service CPU over the window, µs: every thread, and the main thread alone. */
  processUs: number
  mainUs: number
  /** Latency of the requests sent in the window, µs. */
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
  inWindow: boolean
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
  #windowOpen = false
  #done = 0
  #lat = new Float64Array(1 << 20)
  #nLat = 0
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
      this.#conns.push({ sock, sentAt: 0, got: 0, inWindow: false })
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
      first.write(REQUEST)
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
    if (c.inWindow) {
      if (this.#nLat < this.#lat.length) this.#lat[this.#nLat++] = (performance.now() - c.sentAt) * 1000
    }
    if (this.#windowOpen) this.#done++
    if (!this.#sending) return void this.#idle.push(c)
    if (this.#closedLoop) return this.#send(c)
    if (this.#backlog > 0) {
      this.#backlog--
      return this.#send(c)
    }
    this.#idle.push(c)
  }

  #send(c: Conn): void {
    c.inWindow = this.#windowOpen
    this.#inFlight++
    c.sentAt = performance.now()
    c.sock.write(REQUEST)
  }

  #request(): void {
    const c = this.#idle.pop()
    if (c === undefined) this.#backlog++
    else this.#send(c)
  }

  /** Fixed rate: `warmMs` unmeasured, then a window of `windowMs`. */
  async fixed(rate: number, warmMs: number, windowMs: number): Promise<Window> {
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
      return await this.#window(warmMs, windowMs)
    } finally {
      clearTimeout(timer)
    }
  }

  /** Saturation: every connection sends its next request as soon as its response arrived. */
  async saturate(warmMs: number, windowMs: number): Promise<Window> {
    this.#closedLoop = true
    this.#sending = true
    for (const c of this.#idle.splice(0)) this.#send(c)
    return this.#window(warmMs, windowMs)
  }

  async #window(warmMs: number, windowMs: number): Promise<Window> {
    await sleep(warmMs)
    const proc = `/proc/${this.#pid}/stat`
    const main = `/proc/${this.#pid}/task/${this.#pid}/stat`
    this.#nLat = 0
    this.#done = 0
    const errors0 = this.#errors
    const p0 = procCpuUs(proc)
    const m0 = procCpuUs(main)
    const s0 = systemBusyUs()
    const o0 = ownUs(this.#others)
    const w0 = performance.now()
    this.#windowOpen = true
    await sleep(windowMs)
    this.#windowOpen = false
    const p1 = procCpuUs(proc)
    const m1 = procCpuUs(main)
    const seconds = (performance.now() - w0) / 1000
    const otherCores = (systemBusyUs() - s0 - (ownUs(this.#others) - o0) - (p1 - p0)) / (seconds * 1e6)
    const requests = this.#done
    // Stop, and let what is in flight come back (its latency counts if it was sent in the window).
    this.#sending = false
    this.#backlog = 0
    const until = Date.now() + 5000
    while (this.#inFlight > 0 && Date.now() < until) await sleep(2)
    return {
      requests,
      seconds,
      processUs: p1 - p0,
      mainUs: m1 - m0,
      p50Us: percentile(this.#lat, this.#nLat, 0.5),
      p99Us: percentile(this.#lat, this.#nLat, 0.99),
      errors: this.#errors - errors0 + (this.#inFlight > 0 ? this.#inFlight : 0),
      otherCores,
    }
  }

  close(): void {
    for (const c of this.#conns) c.sock.destroy()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
