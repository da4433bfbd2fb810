/** Every error this package throws or reports carries one of these codes. */
export type FluentErrorCode =
  /** A tag that is not a non-empty string within the length limit, or one tag too many; as an event, an NDJSON line's `tagKey` named one (the line went under the fallback tag). */
  | 'ERR_FLUENT_INVALID_TAG'
  /** The record is not a plain object, a Map or an Error (or `emitMany` got no array, `emitRaw` no bytes); from a FluentReceiver, an event it could not decode. */
  | 'ERR_FLUENT_INVALID_RECORD'
  /** A time that is not seconds in 0..2^32, a Date or an EventTime in range. */
  | 'ERR_FLUENT_INVALID_TIME'
  /** A record that cannot be encoded (nested too deep, a BigInt past 64 bits, a getter, `toJSON` or proxy trap that threw: `err.cause`), or `emitRaw` bytes that are not a valid msgpack map; as an event, NDJSON lines that were not one JSON object (sent as the raw line, nothing lost). */
  | 'ERR_FLUENT_ENCODE'
  /** The encoded record is over `maxRecordBytes`; as an event, NDJSON lines over twice that (skipped, counted as dropped). */
  | 'ERR_FLUENT_RECORD_TOO_LARGE'
  /** The buffer is at `maxBufferBytes`: thrown under `overflow: 'error'`, otherwise reported in bulk. */
  | 'ERR_FLUENT_QUEUE_FULL'
  /** A record emitted after `close()` or the exit drain (reported once; `emit` returns `false`). */
  | 'ERR_FLUENT_CLOSED'
  /** A bad option: unknown key, wrong type or out of range. */
  | 'ERR_FLUENT_CONFIG'
  /** A connect failed, or a heartbeat to a server that is down missed. */
  | 'ERR_FLUENT_CONNECT'
  /** Connecting, writing or waiting for an ack took longer than allowed; or `flush()` did not finish within `timeoutMs`. */
  | 'ERR_FLUENT_TIMEOUT'
  /** The server's ack did not match the batch it answered. */
  | 'ERR_FLUENT_ACK_MISMATCH'
  /** The server closed or reset the connection, or another I/O error on it. */
  | 'ERR_FLUENT_IO'
  /** Records still buffered at the close or exit deadline; or `flush()` when records were given up on. */
  | 'ERR_FLUENT_UNDELIVERED'
  /** A record the server refused on every attempt, isolated from its batch. */
  | 'ERR_FLUENT_REJECTED'
  /** A bug: a writer panic (caught, the writer carries on) or a malformed staged block. */
  | 'ERR_FLUENT_INTERNAL'
  /** The handshake failed on the shared key. */
  | 'ERR_FLUENT_AUTH_KEY'
  /** The handshake failed on the username or password. */
  | 'ERR_FLUENT_AUTH_USER'
  /** The server failed to prove it knows the shared key, or has our own hostname. */
  | 'ERR_FLUENT_AUTH_SERVER'
  /** The server's certificate is not trusted (or ours was refused). */
  | 'ERR_FLUENT_TLS_CERT'
  /** The server's certificate is not for the name connected to. */
  | 'ERR_FLUENT_TLS_HOSTNAME'
  /** One side speaks TLS and the other does not, or no common TLS version. */
  | 'ERR_FLUENT_TLS_PROTOCOL'
  /** TLS plus the Forward handshake did not finish within `handshakeTimeoutMs`. */
  | 'ERR_FLUENT_HANDSHAKE_TIMEOUT'
  /** Every server's circuit breaker is open. */
  | 'ERR_FLUENT_UNAVAILABLE'
  /** The failure handler threw, rejected, answered something other than `true`/`false`, or not within `errorHandlerTimeoutMs`. */
  | 'ERR_FLUENT_HANDLER'
  /** A named `spool.slot` is held by another live process. */
  | 'ERR_FLUENT_SPOOL_LOCKED'
  /** Appending would take the spool past `spool.maxBytes`: new batches stay in memory only. */
  | 'ERR_FLUENT_SPOOL_FULL'
  /** One batch is larger than the spool can ever store. */
  | 'ERR_FLUENT_SPOOL_TOO_LARGE'
  /** A batch the spool could not store as given (not well formed). */
  | 'ERR_FLUENT_SPOOL_INVALID'
  /** The spool directory cannot be used, or an append to it or a read back from it failed. */
  | 'ERR_FLUENT_SPOOL_IO'
  /** Replay found a damaged stretch of a segment file; its records are skipped. */
  | 'ERR_FLUENT_SPOOL_CORRUPT'
  /** The spool's active segment file was removed under the client. */
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
