/**
 * Warnings for the integrations (winston, pino) when nobody listens for errors: one stderr line
 * (`process.emitWarning`) per error code at most every 10 s, with a count of the ones held back.
 * A logging integration must never crash its host, and must not fail in silence either: a wrong
 * host name that no one sees is the usual way logs go missing.
 */
import type { FluentError } from './errors.js'

/** At most one warning per error code this often. */
const WARN_EVERY_MS = 10_000

export type Warner = (err: Error & { code?: string }) => void

/** A warner whose lines start with `prefix` (e.g. `fluent-native/pino`). */
export function rateLimitedWarner(prefix: string): Warner {
  const last = new Map<string, number>()
  const skipped = new Map<string, number>()
  return (err: Error & { code?: string }) => {
    const code = err.code ?? 'ERR_FLUENT_INTERNAL'
    const now = Date.now()
    const at = last.get(code)
    if (at !== undefined && now - at < WARN_EVERY_MS) {
      skipped.set(code, (skipped.get(code) ?? 0) + 1)
      return
    }
    last.set(code, now)
    const more = skipped.get(code) ?? 0
    skipped.delete(code)
    const also = more > 0 ? ` (${more} more like it since the last warning)` : ''
    process.emitWarning(`${prefix}: ${err.message}${also}`, { code })
  }
}

/** For `client.on('error', ...)` in a worker: every error becomes a rate-limited warning. */
export function warnOnError(client: { on(event: 'error', listener: (err: FluentError) => void): unknown }, prefix: string): void {
  const warn = rateLimitedWarner(prefix)
  client.on('error', warn)
}
