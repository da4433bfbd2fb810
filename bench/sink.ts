/**
 * Drives the `fluent-sink` receiver (crates/fluent-sink): start it, read `LISTENING <port>`, and send
 * its stdin line commands (`stats`, `reset`, `wait <N> <timeoutMs>`), one answer line per command.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export interface SinkStats {
  events: number
  requests: number
  bytes: number
  acks: number
  invalid: number
  sizeMismatch: number
  connections: number
  errors: number
}

/**
 * The bench sink's `--max-request-bytes`: 2^30, the most fluent-sink accepts (MAX_LIMIT_BYTES), not
 * its default (Fluent Bit's 6,144,000), so that every contender is compared on the same receiver and
 * every record is counted. Measured with a proxy in front of the sink that records each request's
 * length (1,000,000 events per throughput run, 2 shared cores): fluent-logger's PackedForward sends
 * all it queued while its previous write was in flight as one request, so its requests grow through
 * a burst: up to 436 MB for large records (with acks 371 MB; CompressedPackedForward 140 MB on the
 * wire), 15.5 MB for medium ones; @fluent-org/logger sends each event-loop turn's records (10,000)
 * as one request, 10.9 MB for large records (8.2 MB gzipped). fluent-native's stay under 0.53 MB.
 * How large fluent-logger's get depends on how fast the sink reads, so only the ceiling is safe.
 * The sink allocates as bytes arrive, so the limit costs nothing for smaller requests.
 */
export const SINK_MAX_REQUEST_BYTES = 2 ** 30

export function sinkBinary(root: string): string {
  return process.env.FLUENT_SINK ?? join(root, 'target', 'release', 'fluent-sink')
}

export class Sink {
  readonly port: number
  readonly pid: number
  readonly #proc: ChildProcess
  readonly #lines: string[]
  #waiters: Array<(line: string) => void>
  /** Commands run one at a time: each gets the next answer line. */
  #chain: Promise<unknown> = Promise.resolve()

  private constructor(proc: ChildProcess, port: number, lines: string[], waiters: Array<(line: string) => void>) {
    this.#proc = proc
    this.port = port
    this.pid = proc.pid ?? 0
    this.#lines = lines
    this.#waiters = waiters
  }

  /** With `tls`, the sink's listener speaks TLS (PEM certificate chain and key files). */
  static async start(root: string, threads = 1, tls?: { cert: string; key: string }): Promise<Sink> {
    const bin = sinkBinary(root)
    if (!existsSync(bin)) {
      throw new Error(`${bin} not found: build it with \`cargo build --release -p fluent-sink\` (npm run build:sink)`)
    }
    const args = ['--host', '127.0.0.1', '--port', '0', '--threads', String(threads), '--max-request-bytes', String(SINK_MAX_REQUEST_BYTES)]
    if (tls) args.push('--tls-cert', tls.cert, '--tls-key', tls.key)
    const proc = spawn(bin, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const lines: string[] = []
    const waiters: Array<(line: string) => void> = []
    const rl = createInterface({ input: proc.stdout! })
    rl.on('line', (line) => {
      const w = waiters.shift()
      if (w) w(line)
      else lines.push(line)
    })
    const exited = new Promise<never>((_, reject) => {
      proc.once('exit', (code, signal) => reject(new Error(`fluent-sink exited (${code ?? signal})`)))
      proc.once('error', reject)
    })
    exited.catch(() => undefined)
    const first = await Promise.race([
      new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiters.push(resolve))),
      exited,
    ])
    const m = /^LISTENING (\d+)$/.exec(first.trim())
    if (!m) throw new Error(`fluent-sink: unexpected first line: ${first}`)
    return new Sink(proc, Number(m[1]), lines, waiters)
  }

  #next(): Promise<string> {
    const line = this.#lines.shift()
    if (line !== undefined) return Promise.resolve(line)
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  command(cmd: string): Promise<SinkStats> {
    const run = async (): Promise<SinkStats> => {
      const answer = this.#next()
      this.#proc.stdin!.write(`${cmd}\n`)
      const line = await answer
      const parsed = JSON.parse(line)
      if (parsed.error) throw new Error(`fluent-sink: ${parsed.error}`)
      return parsed as SinkStats
    }
    const p = this.#chain.then(run, run)
    this.#chain = p.catch(() => undefined)
    return p
  }

  stats(): Promise<SinkStats> {
    return this.command('stats')
  }

  reset(): Promise<SinkStats> {
    return this.command('reset')
  }

  /** Blocks (in the sink) until it has counted `n` events or `timeoutMs` passed. */
  wait(n: number, timeoutMs: number): Promise<SinkStats> {
    return this.command(`wait ${n} ${timeoutMs}`)
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null) return
    const gone = new Promise<void>((resolve) => this.#proc.once('exit', () => resolve()))
    this.#proc.stdin!.end('quit\n')
    const t = setTimeout(() => this.#proc.kill('SIGKILL'), 3000)
    await gone
    clearTimeout(t)
  }
}
