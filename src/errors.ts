/** Every error this package throws or reports carries one of these codes. */
export type FluentErrorCode =
  | 'ERR_FLUENT_INVALID_TAG'
  | 'ERR_FLUENT_INVALID_RECORD'
  | 'ERR_FLUENT_INVALID_TIME'
  | 'ERR_FLUENT_ENCODE'
  | 'ERR_FLUENT_RECORD_TOO_LARGE'
  | 'ERR_FLUENT_QUEUE_FULL'
  | 'ERR_FLUENT_CLOSED'
  | 'ERR_FLUENT_CONFIG'
  | 'ERR_FLUENT_CONNECT'
  | 'ERR_FLUENT_TIMEOUT'
  | 'ERR_FLUENT_ACK_MISMATCH'
  | 'ERR_FLUENT_IO'
  | 'ERR_FLUENT_UNDELIVERED'
  | 'ERR_FLUENT_REJECTED'
  | 'ERR_FLUENT_INTERNAL'
  | 'ERR_FLUENT_AUTH_KEY'
  | 'ERR_FLUENT_AUTH_USER'
  | 'ERR_FLUENT_AUTH_SERVER'
  | 'ERR_FLUENT_TLS_CERT'
  | 'ERR_FLUENT_TLS_HOSTNAME'
  | 'ERR_FLUENT_TLS_PROTOCOL'
  | 'ERR_FLUENT_HANDSHAKE_TIMEOUT'
  | 'ERR_FLUENT_UNAVAILABLE'
  | 'ERR_FLUENT_HANDLER'
  | 'ERR_FLUENT_SPOOL_LOCKED'
  | 'ERR_FLUENT_SPOOL_FULL'
  | 'ERR_FLUENT_SPOOL_TOO_LARGE'
  | 'ERR_FLUENT_SPOOL_INVALID'
  | 'ERR_FLUENT_SPOOL_IO'
  | 'ERR_FLUENT_SPOOL_CORRUPT'
  | 'ERR_FLUENT_SPOOL_VANISHED'

/** A typed error: test `err.code`, which is stable, rather than the message. */
export class FluentError extends Error {
  /** The stable `ERR_FLUENT_*` code (see {@link FluentErrorCode}). */
  readonly code: FluentErrorCode
  /** For dropped, undelivered or rejected records: how many. */
  readonly records?: number
  /** For undelivered or rejected records: their tag. */
  readonly tag?: string
  /** For errors about a connection: the server, `host:port` or the socket path (also in the message). */
  readonly address?: string

  /** @internal Made by the client. */
  constructor(code: FluentErrorCode, message: string, extra?: { records?: number; tag?: string; address?: string; cause?: unknown }) {
    super(message, extra?.cause === undefined ? undefined : { cause: extra.cause })
    this.name = 'FluentError'
    this.code = code
    if (extra?.records !== undefined) this.records = extra.records
    if (extra?.tag !== undefined) this.tag = extra.tag
    if (extra?.address !== undefined) this.address = extra.address
  }
}

/**
 * The cause of a connection error as Node's own socket errors look: `err.cause.code` is
 * `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, `ECONNRESET`..., so code written for `net` errors reads it.
 */
export function connectionCause(code: string, address: string | undefined, message: string): Error & { code: string; address?: string } {
  const cause = new Error(message) as Error & { code: string; address?: string }
  cause.code = code
  if (address !== undefined) cause.address = address
  return cause
}

/** Errors from the binding carry an `ERR_FLUENT_*` code already; anything else is internal. */
export function fromNative(e: unknown, fallback: FluentErrorCode): FluentError {
  const code = (e as { code?: unknown })?.code
  const known = typeof code === 'string' && code.startsWith('ERR_FLUENT_')
  const message = (e as Error)?.message ?? String(e)
  return new FluentError(known ? (code as FluentErrorCode) : fallback, message, { cause: e })
}
