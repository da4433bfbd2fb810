/**
 * What the streams (src/writable.ts, src/pino.ts, src/ndjson.ts) need from a FluentClient beyond
 * its public API. Kept in a module-private WeakMap filled by the constructor, so nothing of it is
 * reachable from the client object or its prototype.
 */
import { FluentError } from './errors.js'

export interface Limits {
  readonly maxBufferBytes: number
  readonly maxRecordBytes: number
  /** What a record costs against the cap beyond its own bytes, at most. */
  readonly overhead: number
}

export interface ClientInternals {
  /** The client's native id (for `NativeNdjson` and `queuedBytes`). */
  readonly id: number
  readonly limits: Limits
  /** Arms the client's `'drain'` watch; `true` keeps the process alive until it fires (a stream waits). */
  watchDrain(hold: boolean): void
}

const byClient = new WeakMap<object, ClientInternals>()

export function setInternals(client: object, internals: ClientInternals): void {
  byClient.set(client, internals)
}

export function internalsOf(client: object): ClientInternals {
  const internals = byClient.get(client)
  if (internals === undefined) throw new FluentError('ERR_FLUENT_CONFIG', 'expected a FluentClient')
  return internals
}
