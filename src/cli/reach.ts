/**
 * Whether the CLI should keep waiting for its server. A command gives up when an error says
 * waiting cannot help (authentication, certificate, a TLS/plaintext mismatch: they fail the
 * same way on every attempt), or when `attempts` connection attempts in a row failed before any
 * connection succeeded. `closeWithin` then ends the drain at once instead of at its deadline.
 */
import type { FluentClient } from '../client.js'
import type { FluentError, FluentErrorCode } from '../errors.js'
import type { CloseReport } from '../types.js'

/** Errors no retry can fix: the command ends at once. */
export const PERMANENT: ReadonlySet<FluentErrorCode> = new Set([
  'ERR_FLUENT_AUTH_KEY',
  'ERR_FLUENT_AUTH_USER',
  'ERR_FLUENT_AUTH_SERVER',
  'ERR_FLUENT_TLS_CERT',
  'ERR_FLUENT_TLS_HOSTNAME',
  'ERR_FLUENT_TLS_PROTOCOL',
])

/** One failed connection attempt each. */
const ATTEMPT_FAILED: ReadonlySet<FluentErrorCode> = new Set(['ERR_FLUENT_CONNECT', 'ERR_FLUENT_TIMEOUT', 'ERR_FLUENT_HANDSHAKE_TIMEOUT'])

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class Reach {
  connected = false
  /** The error that made it give up (or the last connection error). */
  lastError: FluentError | undefined
  permanent: FluentError | undefined
  readonly #client: FluentClient
  readonly #attempts: number
  /** Failed attempts seen as 'error' events, before the first connection. */
  #failedEvents = 0
  /** The count it gave up at, so the message says what the rule said. */
  #failedAtGiveUp: number | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(client: FluentClient, attempts: number) {
    this.#client = client
    this.#attempts = attempts
    client.on('connect', () => (this.connected = true))
    client.on('error', (err: FluentError) => {
      // What made it give up stays what the message says.
      if (this.gaveUp) return
      if (PERMANENT.has(err.code)) {
        this.permanent ??= err
        this.lastError = err
      } else if (ATTEMPT_FAILED.has(err.code)) {
        this.lastError = err
        if (!this.connected) this.#failedEvents++
      }
    })
  }

  /**
   * Failed connection attempts before the first connection: the 'error' events, or the servers'
   * own error counts when those are higher (error events may be folded together; the counts not).
   */
  get failed(): number {
    if (this.#failedAtGiveUp !== undefined) return this.#failedAtGiveUp
    if (this.connected) return this.#failedEvents
    const counted = this.#client.stats().servers.reduce((n, s) => n + s.errors, 0)
    return Math.max(this.#failedEvents, counted)
  }

  get gaveUp(): boolean {
    if (this.#failedAtGiveUp !== undefined || this.permanent !== undefined) return true
    const failed = this.failed
    if (this.connected || failed < this.#attempts) return false
    this.#failedAtGiveUp = this.#attempts
    return true
  }

  /** Resolves once it gave up (checked every 20 ms until `stop()`; never, if it does not). */
  givenUp(): Promise<void> {
    return new Promise((resolve) => {
      clearInterval(this.#timer)
      this.#timer = setInterval(() => {
        if (!this.gaveUp) return
        this.stop()
        resolve()
      }, 20)
      // Waiting for this must not keep the process alive by itself.
      this.#timer.unref()
    })
  }

  /** Stops the checks `givenUp()` started. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Why it gave up, for the one-line message. */
  reason(): string {
    if (this.permanent !== undefined) return `${this.permanent.message} (${this.permanent.code})`
    const attempts = `${this.failed} connection attempt(s) failed`
    return this.lastError === undefined ? attempts : `${attempts}: ${this.lastError.message} (${this.lastError.code})`
  }
}

/**
 * `client.close({ timeoutMs })`, cut short (closing again with timeoutMs 0) as soon as `reach`
 * gives up: records waiting for a server that cannot be used are not waited for.
 */
export async function closeWithin(client: FluentClient, reach: Reach, timeoutMs: number): Promise<CloseReport> {
  if (reach.gaveUp) return client.close({ timeoutMs: 0 })
  const closing = client.close({ timeoutMs })
  let settled = false
  void closing.finally(() => (settled = true))
  // Polled rather than awaited: close() may settle first, and nothing may stay pending then.
  while (!settled) {
    if (reach.gaveUp) return client.close({ timeoutMs: 0 })
    await sleep(10)
  }
  return closing
}
