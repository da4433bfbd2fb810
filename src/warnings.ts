/**
 * Warnings for the integrations (winston, pino) when nobody listens for errors. A logging
 * integration must never crash its host, and must not fail in silence either: a wrong host name
 * that no one sees is the usual way logs go missing.
 *
 * - A failure to reach the server (connect, TLS, handshake, auth) is said once per outage: again
 *   only after a connection succeeded in between.
 * - Any other error code at most once per 10 s, with a count of the ones held back.
 */
import { writeSync } from 'node:fs'
import type { FluentClient } from './client.js'
import type { FluentError } from './errors.js'

/** At most one warning per error code this often (codes other than reaching the server). */
const WARN_EVERY_MS = 10_000

/** The codes of a failure to reach a server: said once until the next successful connection. */
const REACHING = /^ERR_FLUENT_(CONNECT|TIMEOUT|HANDSHAKE_TIMEOUT|TLS_.*|AUTH_.*|UNAVAILABLE|IO)$/

/** Says one error, unless it was said recently. */
export type Warner = (err: Error & { code?: string }) => void

/**
 * Where a warning line goes. `emit`: `process.emitWarning` (Node's printer, `--no-warnings`,
 * `'warning'` listeners). `stderr`: written to fd 2 at once, for a Worker, whose own stderr is
 * relayed by the main thread, which is blocked while pino waits for the Worker at exit.
 */
export type WarningSink = 'emit' | 'stderr'

function write(sink: WarningSink, message: string, code: string): void {
  if (sink === 'emit') process.emitWarning(message, { code })
  else writeSync(2, `(node:${process.pid}) [${code}] Warning: ${message}\n`)
}

/** One integration's warnings. */
export interface Warnings {
  /** Says an error (see above for how often). */
  warn: Warner
  /** A connection succeeded: the next failure to reach the server is said again. */
  connected(): void
}

/** Warnings whose lines start with `prefix` (e.g. `fluent-native/pino`). */
export function warnings(prefix: string, sink: WarningSink = 'emit'): Warnings {
  const last = new Map<string, number>()
  const skipped = new Map<string, number>()
  return {
    warn(err) {
      const code = err.code ?? 'ERR_FLUENT_INTERNAL'
      const now = Date.now()
      const at = last.get(code)
      if (at !== undefined && (REACHING.test(code) || now - at < WARN_EVERY_MS)) {
        skipped.set(code, (skipped.get(code) ?? 0) + 1)
        return
      }
      last.set(code, now)
      const more = skipped.get(code) ?? 0
      skipped.delete(code)
      const also = more > 0 ? ` (${more} more like it since the last warning)` : ''
      write(sink, `${prefix}: ${err.message}${also}`, code)
    },
    connected() {
      for (const code of last.keys()) if (REACHING.test(code)) last.delete(code)
    },
  }
}

/** Every error of `client` becomes a warning (see `warnings`); a connection re-arms them. */
export function warnAboutClient(client: FluentClient, prefix: string, sink: WarningSink): void {
  const w = warnings(prefix, sink)
  client.on('error', (err: FluentError) => w.warn(err))
  client.on('connect', () => w.connected())
}

/**
 * For a client the user may listen to (pino's `destination().client`): its errors become warnings
 * only while this is its sole `'error'` listener.
 */
export function warnWhenUnheard(client: FluentClient, prefix: string): void {
  const w = warnings(prefix)
  client.on('error', (err: FluentError) => {
    if (client.listenerCount('error') === 1) w.warn(err)
  })
  client.on('connect', () => w.connected())
}
