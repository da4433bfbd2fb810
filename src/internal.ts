/**
 * What the streams (src/writable.ts, src/pino.ts, src/winston.ts) need from a FluentClient beyond
 * its public API, behind symbols so it stays off the public surface.
 */
/** The client's native id (for `NativeNdjson` and `queuedBytes`). */
export const NATIVE_ID: unique symbol = Symbol('fluent-native.nativeId')
/** Arms the client's `'drain'` watch; `true` keeps the process alive until it fires (a stream waits). */
export const WATCH_DRAIN: unique symbol = Symbol('fluent-native.watchDrain')
/** The byte cap and the largest record of the client, as its options set them. */
export const LIMITS: unique symbol = Symbol('fluent-native.limits')

export interface Limits {
  readonly maxBufferBytes: number
  readonly maxRecordBytes: number
  /** What a record costs against the cap beyond its own bytes, at most. */
  readonly overhead: number
}
