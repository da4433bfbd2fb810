// Shared test plumbing: a real Forward server (@fluent-org/logger's FluentServer) on loopback.
import { FluentServer } from '@fluent-org/logger'
import { readFileSync } from 'node:fs'

export interface Received {
  tag: string
  time: unknown
  record: Record<string, unknown>
}

export class Receiver {
  readonly entries: Received[] = []
  server: FluentServer
  port = 0

  private constructor(server: FluentServer) {
    this.server = server
  }

  static async start(port = 0): Promise<Receiver> {
    const r = new Receiver(new FluentServer({ listenOptions: { port, host: '127.0.0.1' } }))
    await r.listen()
    return r
  }

  private async listen(): Promise<void> {
    this.server.on('entry', (tag: string, time: unknown, record: Record<string, unknown>) => {
      this.entries.push({ tag, time, record })
    })
    await this.server.listen()
    this.port = this.server.port as number
  }

  /** Stops and starts the server again on the same port, keeping what it received. */
  async restartAfter(ms: number): Promise<void> {
    await this.server.close()
    await sleep(ms)
    this.server = new FluentServer({ listenOptions: { port: this.port, host: '127.0.0.1' } })
    await this.listen()
  }

  /** Waits (bounded) until at least `n` entries arrived. */
  waitFor(n: number, timeoutMs = 20_000): Promise<boolean> {
    return until(() => this.entries.length >= n, timeoutMs)
  }

  close(): Promise<void> {
    return this.server.close()
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/**
 * Waits until `cond()` holds, checking every 10 ms, for at most `timeoutMs`; returns whether it held.
 * For what arrives after a flush resolves (a receiver decoding, an event from the writer thread): the
 * assertion after it states what was expected, so a timeout fails there with the real figures.
 */
export async function until(cond: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!cond() && Date.now() < end) await sleep(10)
  return cond()
}

/** The first port of the kernel's ephemeral range, which `listen(0)` hands out. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(low) && low > QUIET_FROM + 100) return low
  } catch {
    // not Linux: the IANA range's start
  }
  return 49152
}
/** Above the ports tests name (24224, fluentd's default). */
const QUIET_FROM = 25_000
const EPHEMERAL_LOW = ephemeralLow()

/**
 * A port nothing listens on, and that no other test's `listen(0)` will be given: a free port below
 * the kernel's ephemeral range, for a test that leaves its port with nothing listening for a while
 * (a server down, between a kill and a restart) while its client keeps reconnecting. A port from
 * `listen(0)` would go back to the ephemeral pool and could be handed to a server of another test
 * running at the same time, which would then receive this test's records (seen once in CI:
 * EADDRINUSE at the restart, and mixed records in the other test). Picked at random and checked by
 * listening on it; two tests picking the same one at once (about 1 in 7,000 per pair) fails loudly
 * with EADDRINUSE rather than mixing records.
 */
export async function deadPort(): Promise<number> {
  const net = await import('node:net')
  const span = EPHEMERAL_LOW - QUIET_FROM
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = QUIET_FROM + Math.floor(Math.random() * span)
    const srv = net.createServer()
    const free = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false))
      srv.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (free) {
      await new Promise<void>((resolve) => srv.close(() => resolve()))
      return port
    }
  }
  throw new Error('no free port below the ephemeral range after 100 tries')
}

/** Fast-reconnect options so restart tests don't wait on production backoff. */
export const quick = {
  flushIntervalMs: 5,
  reconnectInitialDelayMs: 20,
  reconnectMaxDelayMs: 200,
  connectTimeoutMs: 1000,
}
