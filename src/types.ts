/** The public option, report and stats shapes. Defaults and ranges live in the native option table. */
import type { FluentError } from './errors.js'
import type { ErrorHandler } from './fallbacks.js'

/** The Forward wire form of each request: one event (`message`), a batch array (`forward`) or a batch as msgpack bytes (`packedForward`, with `size`). */
export type Mode = 'message' | 'forward' | 'packedForward'
/** What a full buffer does with a new record: refuse it, discard the oldest batch (only if that makes room), or throw `ERR_FLUENT_QUEUE_FULL`. */
export type OverflowPolicy = 'dropNewest' | 'dropOldest' | 'error'

/**
 * Client options; all optional. An unknown key or a wrong type throws ERR_FLUENT_CONFIG. Types,
 * ranges and defaults are defined once, in the native option table (crates/fluent-forward/src/
 * options.rs), which the checks read; docs/options.md is generated from that table and this TSDoc.
 */
export interface FluentClientOptions {
  /** TCP server host name or IP address (never `host:port`: set `port` apart). */
  host?: string
  /** TCP server port. */
  port?: number
  /** Unix socket path instead of TCP (Fluent Bit's `unix_path`); setting `host` or `port` too is ERR_FLUENT_CONFIG. */
  path?: string
  /** Wire form of each request (see {@link Mode}). */
  mode?: Mode
  /** Send integer seconds instead of EventTime (for fluentd 0.12). */
  timeAsInteger?: boolean
  /**
   * `'gzip'` or `'zstd'` sends CompressedPackedForward with that algorithm, compressed on the writer
   * thread (`compressed: 'gzip'` or `'zstd'` on the wire; zstd needs Fluent Bit >= 4.1.0 or
   * fluentd >= 1.19). Needs `mode: 'packedForward'` (the default). Unset or `false`: no compression.
   */
  compress?: 'gzip' | 'zstd' | false
  /**
   * The level of `compress`'s algorithm (needs `compress`): gzip 0-9, default `1` (on log-like
   * text it compressed as well as 6, 5x faster); zstd 1-19, default `3` (zstd's own default).
   */
  compressionLevel?: number
  /** At-least-once delivery: a chunk id per batch, acks matched by id, resend on timeout, mismatch or disconnect. */
  requireAck?: boolean
  /** Cap on every buffered record byte (staged, queued, being written, awaiting ack), counting 4 bytes of index per record; at least `maxRecordBytes`. */
  maxBufferBytes?: number
  /** What a full buffer does with a new record (see {@link OverflowPolicy}). */
  overflow?: OverflowPolicy
  /** A batch is sent once it holds this many bytes... */
  batchBytes?: number
  /** ...or once its first record has waited this long. */
  flushIntervalMs?: number
  /** Larger records throw ERR_FLUENT_RECORD_TOO_LARGE (Fluent Bit refuses requests over 6,144,000 bytes). */
  maxRecordBytes?: number
  /** How long one connect may take. */
  connectTimeoutMs?: number
  /**
   * A write that makes no progress (not one byte taken by the kernel) for this long drops the
   * connection; the batch is resent. A slow link is not a stuck one.
   */
  writeTimeoutMs?: number
  /** No ack by then (with `requireAck`): drop the connection, reconnect, resend everything unacknowledged. */
  ackTimeoutMs?: number
  /** Batches awaiting an ack at once. */
  maxInFlight?: number
  /** Reconnect backoff: first delay (each delay is 50-100 % of `initial * 2^n`, capped). */
  reconnectInitialDelayMs?: number
  /** Reconnect backoff: largest delay; at least `reconnectInitialDelayMs`. */
  reconnectMaxDelayMs?: number
  /**
   * Attempts a batch gets while the server keeps dropping the connection on it, before it is split
   * to isolate the record(s) the server rejects (those become ERR_FLUENT_REJECTED).
   */
  maxBatchAttempts?: number
  /** At process or Worker exit, how long the exit blocks while buffered records drain (all clients at once, one deadline); `0` disables. */
  exitFlushTimeoutMs?: number
  /** TLS (rustls, on the writer thread, verified by default). `true`: verify against the default roots (Mozilla's, compiled in). */
  tls?: true | TlsOptions
  /** The Forward handshake (fluentd `<security>`, Fluent Bit `shared_key`). */
  security?: SecurityOptions
  /** Bounds TLS plus the Forward handshake after the TCP connect. */
  handshakeTimeoutMs?: number
  /** When the client stops trying a server for a while (each server has its own breaker). */
  breaker?: BreakerOptions
  /**
   * Several servers instead of `host`/`port`/`path`: batches are spread by weighted round robin
   * over the healthy regular servers; standbys take traffic only while none is healthy; a batch
   * that failed on one server is delivered by another.
   */
  servers?: ServerOptions[]
  /**
   * How a server that failed (or a standby) is probed while the client is not connected to it:
   * `'tcp'` (a connect, closed at once), `'udp'` (a `0x00` datagram; fluentd answers, Fluent Bit does
   * not), `'none'` (send results and the reconnect backoff only).
   */
  heartbeat?: 'udp' | 'tcp' | 'none'
  /** Time between two heartbeats to a server. */
  heartbeatIntervalMs?: number
  /**
   * How long a resolved host name is reused; a failed connect resolves it again at once. With a
   * `servers` entry's `resolve: 'all'`, how often the name is looked up again for members that joined or left
   * (at least every 100 ms; sooner, from 1 s doubling, while a member fails).
   */
  dnsTtlMs?: number
  /**
   * Receives records that leave the pipeline undelivered (rejected, dropped by the overflow policy,
   * left at the close or exit deadline, or offered while every server is unavailable), one batch per
   * call. Return (or resolve) `true` when handled, `false` to keep them (retriable batches only).
   */
  errorHandler?: ErrorHandler
  /** Cap on dropped-record bytes waiting for the failure handler (outside `maxBufferBytes`); beyond it drops are only counted (`handlerOverflow`). */
  errorHandlerMaxBytes?: number
  /** A handler that has not answered within this counts as `false` (ERR_FLUENT_HANDLER). */
  errorHandlerTimeoutMs?: number
  /**
   * A durable spool: every batch is written to disk before it is sent and removed once delivered
   * (acknowledged, with `requireAck`); leftovers of an earlier process are sent first.
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
  /** The `spool.dir` option. */
  dir: string
  /** The slot directory this client holds ('' when the spool could not be opened). */
  slot: string
  /** `'memoryOnly'`: the spool could not be opened, or its last append failed (full, I/O): batches stay in memory only. */
  state: 'ok' | 'memoryOnly'
  /** Bytes of segment files on disk now (this client's own and adopted leftovers). */
  bytes: number
  /** Segment files on disk now. */
  files: number
  /** Records on disk not yet settled (of the batches written, or replayed so far). */
  records: number
  /** Records appended over this client's life. */
  appended: number
  /** Records read back from leftovers of an earlier process (= `stats().replayed`). */
  replayed: number
  /** Batches let go of in memory because they are on disk (read back when their turn comes). */
  evicted: number
  /** Batches kept in memory only because the spool refused them (full, too large, I/O error). */
  notSpooled: number
  /** Damaged stretches skipped on replay (each at least one batch lost), reported as ERR_FLUENT_SPOOL_CORRUPT. */
  corrupted: number
  /** Bytes of those damaged stretches. */
  corruptedBytes: number
  /** fsync calls for segment data. */
  syncs: number
  /**
   * Leftover files of earlier processes that replay has not finished reading. Their records enter
   * this client's counts only when read (`replayed`); at a close they stay on disk, outside
   * `spooled`, and the next process that opens the dir replays them.
   */
  unreadFiles: number
}

/** One server of `servers`. `tls`/`security` override the client-wide ones; `false` turns them off here. */
export interface ServerOptions {
  /** TCP host of this server. */
  host?: string
  /** TCP port of this server. */
  port?: number
  /** Unix socket path, instead of host and port. */
  path?: string
  /** Share of the batches among the healthy regular servers. */
  weight?: number
  /** Only used while no regular server is available. */
  standby?: boolean
  /**
   * `'all'`: every address `host` resolves to (each A/AAAA record, e.g. a Kubernetes headless
   * service) is a server of the fleet, with its own connection, breaker and this entry's weight,
   * standby, tls and security; looked up again every `dnsTtlMs`, members join and leave (drained,
   * nothing lost) without a restart. `'first'`: one server, the first address that answers.
   */
  resolve?: 'first' | 'all'
  /** TLS for this server, instead of the client-wide `tls`; `false`: none. */
  tls?: true | TlsOptions | false
  /** The handshake for this server, instead of the client-wide `security`; `false`: none. */
  security?: SecurityOptions | false
}

/** One server's state, in `stats().servers`. */
export interface ServerStats {
  /** `host:port` or the socket path. */
  address: string
  /** Usable: not failing (heartbeats, send results) and its breaker not open. */
  healthy: boolean
  /** A connection to it is open. */
  connected: boolean
  /** Its circuit breaker's state. */
  breaker: 'closed' | 'open' | 'halfOpen'
  /** Records delivered to it (acknowledged, with `requireAck`). */
  sent: number
  /** Batches delivered to it. */
  batches: number
  /** Failed connects and connections it ended or let time out. */
  errors: number
  /** Batches written to it awaiting their ack. */
  inFlight: number
}

/** TLS options, as Node's `tls` module names them. */
export interface TlsOptions {
  /** PEM: trust these CAs instead of the default roots. */
  ca?: string | Buffer
  /** PEM client certificate chain, for mutual TLS (needs `key`). */
  cert?: string | Buffer
  /** PEM private key of `cert`. Never echoed. */
  key?: string | Buffer
  /** Name for SNI and verification. Default: `host` (an IP address verifies against IP SANs). */
  servername?: string
  /** `false` skips verifying the server's certificate (warns once per process, FLUENT_TLS_UNVERIFIED). */
  rejectUnauthorized?: boolean
  /** Lowest TLS version accepted. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
}

/** The Forward protocol's handshake (fluentd `<security>`, Fluent Bit `shared_key` / `security.users`). */
export interface SecurityOptions {
  /** Our name in the handshake; must differ from the server's. Default: this machine's hostname. */
  clientHostname?: string
  /** The server's shared key. Never echoed. */
  sharedKey: string
  /** For user authentication (`user_auth` / `security.users`). */
  username?: string
  /** The user's password. Never echoed. */
  password?: string
}

/** One circuit breaker per server: when the client stops trying a server for a while. */
export interface BreakerOptions {
  /** Consecutive connection failures (a missed heartbeat counts) that open the breaker; authentication, certificate and TLS-protocol errors open it at once. */
  failureThreshold?: number
  /** How long it stays open before one probe (`halfOpen`); doubles per consecutive opening. */
  cooldownMs?: number
  /** Cap on the doubling of `cooldownMs`. */
  maxCooldownMs?: number
}

/** The `'breaker'` event: a server's breaker opened, half-opened for its probe, or closed. */
export interface BreakerEvent {
  /** The breaker's new state. */
  state: 'closed' | 'open' | 'halfOpen'
  /** `host:port` or the socket path. */
  server: string
}

/** Options of `flush()`. */
export interface FlushOptions {
  /** How long to wait before rejecting with ERR_FLUENT_TIMEOUT. */
  timeoutMs?: number
}

/** Options of `close()`. */
export interface CloseOptions {
  /** How long to keep trying to deliver buffered records before discarding (and reporting) what is left. */
  timeoutMs?: number
}

/** What `close()` resolves with: the terms of the accounting identity. */
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
  /**
   * Records of this client's counts (emitted, or replayed) left on disk in the spool at the close;
   * the next process that opens it sends them (0 without `spool`). Leftover files of earlier
   * processes this client had not read yet stay on disk too, outside every count here
   * (`stats().spool.unreadFiles`), and are sent by the next process as well.
   */
  spooled: number
}

/** A snapshot of a client's counters and state, from `stats()`. */
export interface FluentStats {
  /** Records accepted at emit. `emitted + refused + replayed = sent + dropped + rejected + handled + pending + spooled`. */
  emitted: number
  /** Records refused at emit (overflow policy, closed client); each then ends as `dropped` or `handled`. */
  refused: number
  /** Records not yet in a final bucket: buffered, being sent, or with the failure handler. */
  pending: number
  /** Records delivered (acknowledged, with `requireAck`). */
  sent: number
  /** Records given up on: refused or discarded by the overflow policy, invalid, left at a close deadline, or not taken back by the failure handler. */
  dropped: number
  /** Records the server rejected on every attempt, isolated from their batch and given up on. */
  rejected: number
  /** Bytes buffered now, as `maxBufferBytes` counts them. */
  queuedBytes: number
  /** Records buffered now. */
  queuedRecords: number
  /** Batches written and awaiting their ack. */
  inFlightBatches: number
  /** Batches delivered. */
  batchesSent: number
  /** Bytes written to servers (requests as framed, after compression). */
  bytesSent: number
  /** Connections opened. */
  connects: number
  /** Connections opened after a lost one. */
  reconnects: number
  /** Errors the writer reported (each also went to 'error' listeners, if any). */
  errors: number
  /** Events (errors, connects) lost because the JS thread was too far behind to take them (queue of 1024). */
  eventsLost: number
  /** Errors with no 'error' listener to receive them: counted here, never thrown. */
  unhandledErrors: number
  /** Batches written again after a failure. */
  retries: number
  /** A connection to some server is open. */
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
  /** Records of this client's counts left on disk at the close (0 while running: records on disk count as `pending`); see `CloseReport.spooled`. */
  spooled: number
  /** The durable spool, `null` without the `spool` option. */
  spool: SpoolStats | null
  /** Each server's state, in the order of `servers` (one entry for `host`/`port`/`path`). */
  servers: ServerStats[]
}

/** What `emitMany` did. */
export interface EmitManyResult {
  /** Records accepted into the buffer. */
  accepted: number
  /** Records refused by the overflow policy (or a closed client). */
  dropped: number
  /** Records that could not be encoded, by index; the others were still sent. */
  errors: Array<{
    /** Position in the array given to `emitMany`. */
    index: number
    /** Why it could not be encoded. */
    error: FluentError
  }>
}
