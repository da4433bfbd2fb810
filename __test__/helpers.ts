// Shared test plumbing: a real Forward server (@fluent-org/logger's FluentServer) on loopback.
import { FluentServer } from '@fluent-org/logger'

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

/** A port nothing listens on: bound, read, released. */
export async function deadPort(): Promise<number> {
  const net = await import('node:net')
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

/** Fast-reconnect options so restart tests don't wait on production backoff. */
export const quick = {
  flushIntervalMs: 5,
  reconnectInitialDelayMs: 20,
  reconnectMaxDelayMs: 200,
  connectTimeoutMs: 1000,
}
