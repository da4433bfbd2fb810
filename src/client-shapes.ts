/**
 * How the client turns what the native side reports into the public shapes: writer events into
 * FluentErrors, a failure while encoding into ERR_FLUENT_ENCODE, the native stats into
 * `FluentStats` (with the JS side's own counts added), and the identity's terms for a message.
 */
import type { JsEvent, JsStats, NativeOptions } from '../binding.js'
import { takeOwnError } from './encoder.js'
import { FluentError, connectionCause } from './errors.js'
import type { FluentErrorCode } from './errors.js'
import type { HandlerRunner } from './handler.js'
import { defaultOf } from './options.js'
import { describeError } from './time.js'
import type { FluentStats, SpoolStats } from './types.js'

/** A writer event (`error`, `disconnect`) as the FluentError listeners get. */
export function toError(ev: JsEvent): FluentError {
  const code = (ev.code ?? 'ERR_FLUENT_INTERNAL') as FluentErrorCode
  const message = ev.message ?? code
  const address = ev.address ?? undefined
  const cause = ev.causeCode ? connectionCause(ev.causeCode, address, message) : undefined
  return new FluentError(code, message, { records: ev.records ?? undefined, tag: ev.tag ?? undefined, address, cause })
}

/**
 * Whatever user code threw while a record was being encoded (a getter, `toJSON`, a Proxy trap, or a
 * stack overflow) becomes ERR_FLUENT_ENCODE with the original as `cause`; the encoder's own errors
 * pass through as they are.
 */
export function encodeError(e: unknown): FluentError {
  if (takeOwnError(e)) return e as FluentError
  return new FluentError('ERR_FLUENT_ENCODE', `reading the record threw (a getter, toJSON() or Proxy trap): ${describeError(e)}`, {
    cause: e,
  })
}

/** Each server's name as events give it (`host:port` or the socket path), in `servers` order. */
export function serverNames(native: NativeOptions): string[] {
  const name = (s: { host?: string | null; port?: number | null; path?: string | null }) => s.path ?? `${s.host ?? '127.0.0.1'}:${s.port ?? defaultOf('port')}`
  return (native.servers ?? [native]).map(name)
}

/**
 * `stats()`: the native counters, plus what only the JS side knows: records refused after the
 * close, the failure handler's counts, and errors no listener received.
 */
export function publicStats(s: JsStats, handlers: HandlerRunner | undefined, droppedAfterClose: number, unhandled: number): FluentStats {
  return {
    ...s,
    breaker: s.breaker as FluentStats['breaker'],
    servers: s.servers.map((v) => ({ ...v, breaker: v.breaker as FluentStats['breaker'] })),
    spool: s.spool == null ? null : { ...s.spool, state: s.spool.state as SpoolStats['state'] },
    refused: s.refused + droppedAfterClose,
    dropped: s.dropped + droppedAfterClose + (handlers?.dropped ?? 0),
    pending: s.pending + (handlers?.inHand ?? 0),
    handled: handlers?.handled ?? 0,
    handlerOverflow: s.handlerOverflow + (handlers?.overflow ?? 0),
    unhandledErrors: unhandled,
  }
}

/** The identity's terms, for the exit report: `emitted + refused + replayed = sent + dropped + rejected + handled + pending + spooled`. */
export function identityTerms(s: FluentStats): string {
  const spool = s.spool === null ? ['', ''] : [`, replayed ${s.replayed}`, ` + spooled ${s.spooled}`]
  return `emitted ${s.emitted}, refused ${s.refused}${spool[0]} = sent ${s.sent} + dropped ${s.dropped} + rejected ${s.rejected} + handled ${s.handled} + pending ${s.pending}${spool[1]}`
}
