/**
 * What the streams (src/writable.ts, src/pino.ts, src/ndjson.ts) need from a FluentClient beyond
 * its public API. Kept in a module-private WeakMap filled by the constructor, so nothing of it is
 * reachable from the client object or its prototype.
 */
import { FluentError } from './errors.js'

/** The client's size limits, as the native side applies them. */
export interface Limits {
  /** The `maxBufferBytes` in effect. */
  readonly maxBufferBytes: number
  /** The `maxRecordBytes` in effect. */
  readonly maxRecordBytes: number
  /** What a record costs against the cap beyond its own bytes, at most. */
  readonly overhead: number
}

/** What a stream needs of its client. */
export interface ClientInternals {
  /** The client's native id (for `NativeNdjson` and `queuedBytes`). */
  readonly id: number
  /** Its size limits. */
  readonly limits: Limits
  /** How long data held on the JS side for it may wait for a handover, ms (src/stage.ts, "Bounded delay"). */
  readonly handoverDelayMs: number
  /** Arms the client's `'drain'` watch; `true` keeps the process alive until it fires (a stream waits). */
  watchDrain(hold: boolean): void
}

const byClient = new WeakMap<object, ClientInternals>()

/** Called by the client's constructor. */
export function setInternals(client: object, internals: ClientInternals): void {
  byClient.set(client, internals)
}

/** The internals of `client`; ERR_FLUENT_CONFIG if it is no FluentClient. */
export function internalsOf(client: object): ClientInternals {
  const internals = byClient.get(client)
  if (internals === undefined) throw new FluentError('ERR_FLUENT_CONFIG', 'expected a FluentClient')
  return internals
}
