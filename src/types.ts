/** The public option, report and stats shapes. Defaults and ranges live in the native option table. */
import type { FluentError } from './errors.js'
import type { ErrorHandler } from './fallbacks.js'

export type Mode = 'message' | 'forward' | 'packedForward'
export type OverflowPolicy = 'dropNewest' | 'dropOldest' | 'error'

/**
 * Client options; all optional. An unknown key or a wrong type throws ERR_FLUENT_CONFIG. Types,
 * ranges and defaults are defined once, in the native option table (crates/fluent-forward/src/
 * options.rs), which the checks read; the README's option table lists them (a test keeps it complete).
 */
export interface FluentClientOptions {
  /** Server host. Default `'127.0.0.1'`. */
  host?: string
  /** Server port. Default `24224`. */
  port?: number
  /** Unix socket path, instead of host and port (setting both is ERR_FLUENT_CONFIG). */
  path?: string
  /** Wire form. Default `'packedForward'`. */
  mode?: Mode
  /** Send integer seconds instead of EventTime (for fluentd 0.12). Default `false`. */
  timeAsInteger?: boolean
  /**
   * `'gzip'` or `'zstd'` sends CompressedPackedForward with that algorithm (`compressed: 'gzip'` or
   * `'zstd'` on the wire; zstd needs Fluent Bit >= 4.1.0 or fluentd >= 1.19). Default: no compression.
   */
  compress?: 'gzip' | 'zstd' | false
  /**
   * The level of `compress`'s algorithm: gzip 0-9, default `1` (on log-like text it compressed as
   * well as 6 here, 5x faster); zstd 1-19, default `3` (zstd's own default).
   */
  compressionLevel?: number
  /** Ask the server to acknowledge every batch and resend unacknowledged ones. Default `false`. */
  requireAck?: boolean
  /** Cap on all buffered record bytes (waiting, being written, awaiting ack, plus 4 bytes of index per record). Default 64 MiB. */
  maxBufferBytes?: number
  /** What happens to a record when the buffer is full. Default `'dropNewest'`. */
  overflow?: OverflowPolicy
  /** Send a batch once it holds this many bytes. Default 512 KiB. */
  batchBytes?: number
  /** ...or once its first record has waited this long. Default 50 ms. */
  flushIntervalMs?: number
  /** Largest record accepted. Default 4 MiB (Fluent Bit refuses requests over 6,144,000 bytes). */
  maxRecordBytes?: number
  /** Default 5000. */
  connectTimeoutMs?: number
  /** A write that makes no progress for this long drops the connection. Default 10000. */
  writeTimeoutMs?: number
  /** Unacknowledged batches are resent on a new connection after this. Default 30000. */
  ackTimeoutMs?: number
  /** Batches awaiting an ack at once. Default 8. */
  maxInFlight?: number
  /** Reconnect backoff: first delay. Default 100. */
  reconnectInitialDelayMs?: number
  /** Reconnect backoff: largest delay. Default 10000. */
  reconnectMaxDelayMs?: number
  /**
   * Attempts a batch gets while the server keeps dropping the connection on it, before it is split
   * to isolate the record(s) the server rejects (those become ERR_FLUENT_REJECTED). Default 5.
   */
  maxBatchAttempts?: number
  /** At process or Worker exit, how long the exit blocks while buffered records drain (all clients at once). Default 2000; 0 disables. */
  exitFlushTimeoutMs?: number
  /** TLS (rustls, verified by default). `true`: the default roots (Mozilla's, compiled in). */
  tls?: true | TlsOptions
  /** The Forward handshake (fluentd `<security>`, Fluent Bit `shared_key`). */
  security?: SecurityOptions
  /** Bounds TLS plus the handshake after a connect. Default 10000. */
  handshakeTimeoutMs?: number
  /** When the client stops trying a server for a while (each server has its own breaker). */
  breaker?: BreakerOptions
  /**
   * Several servers instead of `host`/`port`/`path`: batches are spread by weighted round robin
   * over the healthy regular servers; standbys take traffic only while none is healthy; a batch
   * that failed on one server is delivered by another.
   */
  servers?: ServerOptions[]
  /** How a server that failed (or a standby) is probed while not connected to. Default `'tcp'`. */
  heartbeat?: 'udp' | 'tcp' | 'none'
  /** Default 500. */
  heartbeatIntervalMs?: number
  /** How long a resolved host name is reused; a failed connect resolves it again at once. Default 30000. */
  dnsTtlMs?: number
  /**
   * Receives records that leave the pipeline undelivered (rejected, dropped by the overflow policy,
   * left at the close or exit deadline, or offered while every server is unavailable), one batch per
   * call. Return (or resolve) `true` when handled, `false` to keep them (retriable batches only).
   */
  errorHandler?: ErrorHandler
  /** Cap on dropped-record bytes waiting for the failure handler; beyond it drops are only counted. Default 8 MiB. */
  errorHandlerMaxBytes?: number
  /** A handler that has not answered within this counts as `false` (ERR_FLUENT_HANDLER). Default 10000. */
  errorHandlerTimeoutMs?: number
  /**
   * A durable spool: every batch is written to disk before it is sent and removed once delivered
   * (acknowledged, with `requireAck`); leftovers of an earlier process are sent first. See docs/spool.md.
   */
  spool?: SpoolOptions
}

/** The durable spool (docs/spool.md). */
export interface SpoolOptions {
  /** The spool directory, created if missing; processes sharing it get one slot each. Required. */
  dir: string
  /** Cap on the spool's disk bytes (its own and adopted leftovers). Default 1 GiB; 1 MiB..2^50. */
  maxBytes?: number
  /** fsync at most this often; `0` after every batch; `-1` never (the OS writes back). Default 1000. */
  syncIntervalMs?: number
  /** A named slot (never adopted by others, never adopts); a second process with it gets ERR_FLUENT_SPOOL_LOCKED. Default: an automatic slot. */
  slot?: string
}

/** `stats().spool`: what the spool holds now and has done (`null` without the `spool` option). */
export interface SpoolStats {
  dir: string
  /** The slot directory this client holds ('' when the spool could not be opened). */
  slot: string
  /** `'memoryOnly'`: the spool could not be opened, or its last append failed (full, I/O): batches stay in memory only. */
  state: 'ok' | 'memoryOnly'
  /** On disk now: segment bytes, files, and the records of the batches read or written and not yet settled. */
  bytes: number
  files: number
  records: number
  /** Records appended over this client's life. */
  appended: number
  /** Records read back from leftovers of an earlier process (= `stats().replayed`). */
  replayed: number
  /** Batches let go of in memory because they are on disk (read back when their turn comes). */
  evicted: number
  /** Batches kept in memory only because the spool refused them (full, too large, I/O error). */
  notSpooled: number
  /** Damaged stretches skipped on replay (each at least one batch), and their bytes. */
  corrupted: number
  corruptedBytes: number
  /** fsync calls for segment data. */
  syncs: number
}

/** One server of `servers`. `tls`/`security` override the client-wide ones; `false` turns them off here. */
export interface ServerOptions {
  host?: string
  port?: number
  /** Unix socket path, instead of host and port. */
  path?: string
  /** Share of the batches among the healthy regular servers. Default 1. */
  weight?: number
  /** Only used while no regular server is healthy. Default `false`. */
  standby?: boolean
  tls?: true | TlsOptions | false
  security?: SecurityOptions | false
}

export interface ServerStats {
  /** `host:port` or the socket path. */
  address: string
  /** Usable: not failing (heartbeats, send results) and its breaker not open. */
  healthy: boolean
  connected: boolean
  breaker: 'closed' | 'open' | 'halfOpen'
  /** Records delivered to it (acknowledged, with `requireAck`). */
  sent: number
  batches: number
  /** Failed connects and connections it ended or let time out. */
  errors: number
  /** Batches written to it awaiting their ack. */
  inFlight: number
}

/** As Node's `tls` module names them. */
export interface TlsOptions {
  /** PEM: trust these CAs instead of the default roots. */
  ca?: string | Buffer
  /** PEM client certificate chain, for mutual TLS (needs `key`). */
  cert?: string | Buffer
  /** PEM private key of `cert`. Never echoed. */
  key?: string | Buffer
  /** Name for SNI and verification. Default: `host` (an IP address verifies against IP SANs). */
  servername?: string
  /** `false` skips verifying the server's certificate (warns once). Default `true`. */
  rejectUnauthorized?: boolean
  /** Default `'TLSv1.2'`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
}

export interface SecurityOptions {
  /** Our name in the handshake; must differ from the server's. Default: this machine's hostname. */
  clientHostname?: string
  /** The server's shared key. Never echoed. */
  sharedKey: string
  /** For user authentication (`user_auth` / `security.users`). */
  username?: string
  /** Never echoed. */
  password?: string
}

export interface BreakerOptions {
  /** Consecutive connection failures that open the breaker. Default 5 (authentication and certificate errors open it at once). */
  failureThreshold?: number
  /** How long it stays open before one probe; doubles per consecutive opening. Default 10000. */
  cooldownMs?: number
  /** Cap on the doubling. Default 300000. */
  maxCooldownMs?: number
}

export interface BreakerEvent {
  state: 'closed' | 'open' | 'halfOpen'
  /** `host:port` or the socket path. */
  server: string
}

export interface FlushOptions {
  /** Default 30000. */
  timeoutMs?: number
}

export interface CloseOptions {
  /** How long to keep trying to deliver buffered records. Default 5000. */
  timeoutMs?: number
}

export interface CloseReport {
  /** Records accepted at emit over the client's life (records a failure handler gave back are not counted again). */
  emitted: number
  /** Records refused at emit (overflow policy, emits after close); each then ends as `dropped` or `handled`. */
  refused: number
  /** Records delivered over the client's life (acknowledged, with `requireAck`). */
  sent: number
  /** Records dropped: the overflow policy, emits after close, not taken by the failure handler (what this close left is `pending`, not here). */
  dropped: number
  /** Records still buffered at the deadline; they were discarded and reported as ERR_FLUENT_UNDELIVERED. */
  pending: number
  /** Records the server rejected on every attempt (ERR_FLUENT_REJECTED). */
  rejected: number
  /**
   * Records the failure handler took (returned `true` for) over the client's life, including
   * what was left at this close's deadline. Counted here only: `emitted + refused + replayed = sent
   * + dropped + rejected + handled + pending + spooled`.
   */
  handled: number
  /** Records read back from a spool an earlier process left (0 without `spool`). */
  replayed: number
  /** Records left on disk in the spool at the close; the next process that opens it sends them (0 without `spool`). */
  spooled: number
}

export interface FluentStats {
  /** Records accepted at emit. `emitted + refused + replayed = sent + dropped + rejected + handled + pending + spooled`. */
  emitted: number
  /** Records refused at emit (overflow policy, closed client); each then ends as `dropped` or `handled`. */
  refused: number
  /** Records not yet in a final bucket: buffered, being sent, or with the failure handler. */
  pending: number
  sent: number
  dropped: number
  /** Records the server rejected on every attempt, isolated from their batch and given up on. */
  rejected: number
  queuedBytes: number
  queuedRecords: number
  inFlightBatches: number
  batchesSent: number
  bytesSent: number
  connects: number
  reconnects: number
  /** Errors the writer reported (each also went to 'error' listeners, if any). */
  errors: number
  /** Events (errors, connects) lost because the JS thread was too far behind to take them (queue of 1024). */
  eventsLost: number
  /** Errors with no 'error' listener to receive them: counted here, never thrown. */
  unhandledErrors: number
  /** Batches written again after a failure. */
  retries: number
  connected: boolean
  /** The first server's breaker (each server's is in `servers`). */
  breaker: 'closed' | 'open' | 'halfOpen'
  /** Records written again after a write whose ack never came: each may have arrived twice. */
  duplicates: number
  /** Records handed to the failure handler. */
  handedOver: number
  /** Records the failure handler took. */
  handled: number
  /** Dropped records the failure handler never saw (its backlog, errorHandlerMaxBytes, was full). */
  handlerOverflow: number
  /** NDJSON lines sent under the fallback tag because the tag their `tagKey` field named cannot be used (reported as ERR_FLUENT_INVALID_TAG). */
  retagged: number
  /** Records read back from a spool an earlier process left (see `spool`). */
  replayed: number
  /** Records left on disk at the close (0 while running: records on disk count as `pending`). */
  spooled: number
  /** The durable spool, `null` without the `spool` option. */
  spool: SpoolStats | null
  servers: ServerStats[]
}

export interface EmitManyResult {
  accepted: number
  dropped: number
  /** Records that could not be encoded, by index; the others were still sent. */
  errors: Array<{ index: number; error: FluentError }>
}
