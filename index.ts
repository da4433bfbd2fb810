/**
 * fluent-native: a Fluentd / Fluent Bit Forward-protocol client with a Rust core.
 *
 * The JS thread only encodes each record to msgpack (encoder.ts) and hands the bytes over; batching,
 * framing, gzip, acks, retries and reconnects happen on the native writer thread.
 */
import { EventEmitter } from 'node:events'
import { NativeClient, pushStaged } from './binding.js'
import type { JsEvent, NativeOptions } from './binding.js'
import { isRecord } from './encoder.js'
import { claim, commit, encode, handOver, release } from './stage.js'
import type { StageOwner } from './stage.js'
import { FluentError } from './errors.js'
import type { FluentErrorCode } from './errors.js'

export { FluentError }
export type { FluentErrorCode }

/** A timestamp with nanoseconds, as the protocol's EventTime carries it (seconds are unsigned 32-bit). */
export class EventTime {
  readonly epoch: number
  readonly nano: number

  constructor(epoch: number, nano: number) {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
      throw new FluentError('ERR_FLUENT_INVALID_TIME', `EventTime seconds must be an integer in 0..2^32-1, got ${epoch}`)
    }
    if (!Number.isInteger(nano) || nano < 0 || nano > 999_999_999) {
      throw new FluentError('ERR_FLUENT_INVALID_TIME', `EventTime nanoseconds must be an integer in 0..999999999, got ${nano}`)
    }
    this.epoch = epoch
    this.nano = nano
  }

  static fromDate(date: Date): EventTime {
    splitDate(date)
    return new EventTime(timeSec, timeNsec)
  }

  /** From seconds since the epoch; the fraction is kept to the nanosecond a double allows. */
  static fromTimestamp(seconds: number): EventTime {
    splitSeconds(seconds)
    return new EventTime(timeSec, timeNsec)
  }
}

export type Mode = 'message' | 'forward' | 'packedForward'
export type OverflowPolicy = 'dropNewest' | 'dropOldest' | 'error'

export interface FluentClientOptions {
  /** Server host. Default `'127.0.0.1'`. */
  host?: string
  /** Server port. Default `24224`. */
  port?: number
  /** Unix socket path; when set, host and port are ignored. */
  path?: string
  /** Wire form. Default `'packedForward'`. */
  mode?: Mode
  /** Send integer seconds instead of EventTime (for fluentd 0.12). Default `false`. */
  timeAsInteger?: boolean
  /** `'gzip'` sends CompressedPackedForward. Default: no compression. */
  compress?: 'gzip' | false
  /** gzip level 0-9. Default `1`: on log-like text it compressed as well as 6 here, 5x faster. */
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
  /** At process exit, how long to block while buffered records drain. Default 2000; 0 disables. */
  exitFlushTimeoutMs?: number
}

export interface CloseOptions {
  /** How long to keep trying to deliver buffered records. Default 5000. */
  timeoutMs?: number
}

export interface CloseReport {
  /** Records delivered over the client's life (acknowledged, with `requireAck`). */
  sent: number
  /** Records dropped before the close (overflow policy, emits after close). */
  dropped: number
  /** Records still buffered at the deadline; they were discarded and reported as ERR_FLUENT_UNDELIVERED. */
  pending: number
}

export interface FluentStats {
  emitted: number
  sent: number
  dropped: number
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
}

export interface EmitManyResult {
  accepted: number
  dropped: number
  /** Records that could not be encoded, by index; the others were still sent. */
  errors: Array<{ index: number; error: FluentError }>
}

export type Time = number | Date | EventTime

// Statuses from the native push calls (see crates/fluent-forward-napi/src/lib.rs).
const ACCEPTED = 1
const DROPPED = 0
const QUEUE_FULL = -1
const TOO_LARGE = -2
const UNKNOWN_TAG = -3

const EMPTY = Buffer.alloc(0)
const EMITTER_EVENTS = new Set(['error', 'connect', 'disconnect', 'newListener', 'removeListener'])
const DEFAULT_MAX_RECORD = 4 * 1024 * 1024
const DEFAULT_MAX_BUFFER = 64 * 1024 * 1024
const MAX_TAG_CACHE = 65_536

let timeSec = 0
let timeNsec = 0

/** Splits seconds into the module-level pair above: no allocation on the emit path. */
function splitSeconds(t: number): void {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t >= 0x100000000) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', `time must be seconds in 0..2^32, a Date or an EventTime, got ${t}`)
  }
  let sec = Math.floor(t)
  let nsec = Math.round((t - sec) * 1e9)
  if (nsec >= 1e9) {
    sec += 1
    nsec = 0
  }
  timeSec = sec
  timeNsec = nsec
}

function splitDate(date: Date): void {
  const ms = date.getTime()
  if (!Number.isFinite(ms) || ms < 0 || ms >= 0x100000000 * 1000) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', 'invalid Date or outside 1970..2106')
  }
  // Whole milliseconds convert exactly; going through fractional seconds would not.
  timeSec = Math.floor(ms / 1000)
  timeNsec = (ms - timeSec * 1000) * 1_000_000
}

/** Sets timeSec/timeNsec from any accepted time; `undefined` (now) gives -1, which the stage stamps. */
function splitTime(time: Time | undefined): void {
  if (time === undefined) {
    timeSec = -1
    timeNsec = 0
    return
  }
  if (typeof time === 'number') return splitSeconds(time)
  if (time instanceof EventTime) {
    timeSec = time.epoch
    timeNsec = time.nano
    return
  }
  if (time instanceof Date) return splitDate(time)
  throw new FluentError('ERR_FLUENT_INVALID_TIME', `time must be seconds, a Date or an EventTime, got ${typeof time}`)
}

function checkOptions(o: FluentClientOptions): NativeOptions {
  const int = (name: keyof FluentClientOptions, min: number, max: number): number | undefined => {
    const v = o[name]
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new FluentError('ERR_FLUENT_CONFIG', `${name} must be an integer in ${min}..${max}, got ${String(v)}`)
    }
    return v
  }
  const oneOf = <T extends string>(name: keyof FluentClientOptions, allowed: readonly T[]): T | undefined => {
    const v = o[name]
    if (v === undefined) return undefined
    if (!allowed.includes(v as T)) {
      throw new FluentError('ERR_FLUENT_CONFIG', `${name} must be one of ${allowed.join(', ')}, got ${String(v)}`)
    }
    return v as T
  }
  if (o.host !== undefined && (typeof o.host !== 'string' || o.host === '')) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'host must be a non-empty string')
  }
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'path must be a non-empty string')
  }
  const compress = o.compress === undefined || o.compress === false ? undefined : oneOf('compress', ['gzip'] as const)
  const level = int('compressionLevel', 0, 9)
  const ms = 24 * 3600 * 1000
  return {
    host: o.host,
    port: int('port', 1, 65535),
    path: o.path,
    mode: oneOf('mode', ['message', 'forward', 'packedForward'] as const) as NativeOptions['mode'],
    timeAsInteger: o.timeAsInteger === undefined ? undefined : Boolean(o.timeAsInteger),
    gzipLevel: compress === 'gzip' ? (level ?? 1) : undefined,
    requireAck: o.requireAck === undefined ? undefined : Boolean(o.requireAck),
    maxBufferBytes: int('maxBufferBytes', 1, 2 ** 40),
    overflow: oneOf('overflow', ['dropNewest', 'dropOldest', 'error'] as const) as NativeOptions['overflow'],
    batchBytes: int('batchBytes', 1, 64 * 1024 * 1024),
    flushIntervalMs: int('flushIntervalMs', 1, ms),
    maxRecordBytes: int('maxRecordBytes', 1, 64 * 1024 * 1024),
    connectTimeoutMs: int('connectTimeoutMs', 1, ms),
    writeTimeoutMs: int('writeTimeoutMs', 1, ms),
    ackTimeoutMs: int('ackTimeoutMs', 1, ms),
    maxInFlight: int('maxInFlight', 1, 1024),
    reconnectInitialDelayMs: int('reconnectInitialDelayMs', 1, ms),
    reconnectMaxDelayMs: int('reconnectMaxDelayMs', 1, ms),
  }
}

/** Clients still open, so that process exit can drain them; weak, so they can still be collected. */
const live = new Set<WeakRef<FluentClient>>()
const forget = new FinalizationRegistry<WeakRef<FluentClient>>((ref) => live.delete(ref))
let exitHookInstalled = false

function drainAllAtExit(): void {
  for (const ref of live) ref.deref()?.closeSync()
  live.clear()
}

function toError(ev: JsEvent): FluentError {
  const code = (ev.code ?? 'ERR_FLUENT_INTERNAL') as FluentErrorCode
  return new FluentError(code, ev.message ?? code, { records: ev.records ?? undefined, tag: ev.tag ?? undefined })
}

/**
 * Events: `'connect'`, `'disconnect'` (err), `'error'` (FluentError). Errors with no `'error'`
 * listener are counted in `stats().unhandledErrors`, never thrown.
 */
export class FluentClient extends EventEmitter implements StageOwner {
  readonly #native: NativeClient
  readonly #id: number
  readonly #tags = new Map<string, number>()
  readonly #maxRecord: number
  readonly #cap: number
  readonly #policy: OverflowPolicy
  /** Bytes a record costs beyond its own encoding: array header, time and its 4-byte index slot. */
  readonly #prefix: number
  /** Buffered bytes as of the last handover plus what was staged since: never below the truth. */
  #estimate = 0
  /** Records refused here (dropNewest, error policy, closed) not yet counted by the native side. */
  #refusedHere = 0
  readonly #exitFlushMs: number
  #closing: Promise<CloseReport> | undefined
  #unhandled = 0
  #closedReported = false
  #droppedAfterClose = 0

  constructor(options: FluentClientOptions = {}) {
    super()
    if (typeof options !== 'object' || options === null) {
      throw new FluentError('ERR_FLUENT_CONFIG', 'options must be an object')
    }
    const native = checkOptions(options)
    this.#maxRecord = native.maxRecordBytes ?? DEFAULT_MAX_RECORD
    this.#cap = native.maxBufferBytes ?? DEFAULT_MAX_BUFFER
    this.#policy = (native.overflow as OverflowPolicy | undefined) ?? 'dropNewest'
    this.#prefix = native.timeAsInteger ? 10 : 15
    const exit = options.exitFlushTimeoutMs ?? 2000
    if (!Number.isInteger(exit) || exit < 0 || exit > 600_000) {
      throw new FluentError('ERR_FLUENT_CONFIG', `exitFlushTimeoutMs must be an integer in 0..600000, got ${exit}`)
    }
    this.#exitFlushMs = exit
    // The callback holds the client weakly: the native side roots it for the client's whole life.
    const ref = new WeakRef(this)
    try {
      this.#native = new NativeClient(native, (ev: JsEvent) => {
        const self = ref.deref()
        if (self !== undefined) self.#dispatch(ev)
      })
    } catch (e) {
      throw new FluentError('ERR_FLUENT_CONFIG', (e as Error).message, { cause: e })
    }
    this.#id = this.#native.id
    live.add(ref)
    forget.register(this, ref)
    if (!exitHookInstalled) {
      exitHookInstalled = true
      process.on('exit', drainAllAtExit)
    }
  }

  #tagId(tag: string): number {
    const id = this.#tags.get(tag)
    if (id !== undefined) return id
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new FluentError('ERR_FLUENT_INVALID_TAG', `tag must be a non-empty string, got ${tag === '' ? 'an empty string' : typeof tag}`)
    }
    let fresh: number
    try {
      fresh = this.#native.tagId(tag)
    } catch (e) {
      throw new FluentError('ERR_FLUENT_INVALID_TAG', (e as Error).message, { cause: e })
    }
    if (this.#tags.size < MAX_TAG_CACHE && !EMITTER_EVENTS.has(tag)) this.#tags.set(tag, fresh)
    return fresh
  }

  /**
   * Buffers one record; never waits on the network. Returns `true` if the record was accepted into
   * the buffer, `false` if the overflow policy or a closed client refused it (counted as dropped).
   * Throws FluentError for a bad tag, record or time, or a full buffer under `overflow: 'error'`.
   */
  emit(tag: string, record: object, time?: Time): boolean
  /** @internal EventEmitter's own emit, used for events. */
  emit(event: string | symbol, ...args: unknown[]): boolean
  emit(tag: string | symbol, record?: unknown, time?: unknown, ...rest: unknown[]): boolean {
    let id = this.#tags.get(tag as string)
    if (id === undefined) {
      // EventEmitter's own events go to EventEmitter; a log record with such a tag is still a log
      // record. Those names are never cached, so the cached path needs no check.
      if (typeof tag === 'symbol' || (EMITTER_EVENTS.has(tag) && (!isRecord(record) || record instanceof Error))) {
        return super.emit(tag, record, time, ...rest)
      }
      id = this.#tagId(tag)
    }
    splitTime(time as Time | undefined)
    return this.#stage(id, record, timeSec, timeNsec)
  }

  /** Encodes one record onto the stage and applies the overflow policy against the estimate. */
  #stage(id: number, record: unknown, sec: number, nsec: number): boolean {
    if (this.#closing !== undefined) return this.#refuseClosed()
    claim(this)
    const length = encode(id, record, sec, nsec, this.#maxRecord)
    const entry = length + this.#prefix
    if (this.#estimate + entry > this.#cap && this.#policy !== 'dropOldest') {
      if (this.#policy === 'error') {
        this.#refuse()
        throw new FluentError('ERR_FLUENT_QUEUE_FULL', 'buffer full (overflow policy "error"): record refused', { records: 1 })
      }
      return this.#refuse()
    }
    commit(length)
    this.#estimate += entry
    return true
  }

  /** Counts a refused record; the count reaches the native side (stats, error report) at the next turn. */
  #refuse(): false {
    if (this.#refusedHere++ === 0) queueMicrotask(() => this.#sendRefusals())
    return false
  }

  /**
   * After close the native side may already have stopped, so these drops are counted here and added
   * to the close report and to stats().
   */
  #refuseClosed(): false {
    this.#droppedAfterClose++
    if (!this.#closedReported) {
      this.#closedReported = true
      const err = new FluentError('ERR_FLUENT_CLOSED', 'client is closed: records emitted after close() are dropped')
      process.nextTick(() => this.#report(err))
    }
    return false
  }

  #sendRefusals(): void {
    if (this.#refusedHere > 0) this.deliver(EMPTY, 0, 0)
  }

  /** @internal StageOwner: receives a staged block (and the refusals since the last one). */
  deliver(block: Buffer, length: number, monoNow: number): void {
    const refused = this.#refusedHere
    this.#refusedHere = 0
    const queued = pushStaged(this.#id, block, length, monoNow, refused)
    if (queued >= 0) this.#estimate = queued
  }

  /** Encodes and buffers many records for one tag. Bad records are returned in `errors`, the rest are sent. */
  emitMany(tag: string, records: readonly object[], time?: Time): EmitManyResult {
    if (!Array.isArray(records)) {
      throw new FluentError('ERR_FLUENT_INVALID_RECORD', 'records must be an array')
    }
    const id = this.#tagId(tag)
    const result: EmitManyResult = { accepted: 0, dropped: 0, errors: [] }
    splitTime(time)
    const sec = timeSec
    const nsec = timeNsec
    for (let i = 0; i < records.length; i++) {
      try {
        if (this.#stage(id, records[i], sec, nsec)) result.accepted++
        else result.dropped++
      } catch (e) {
        if (!(e instanceof FluentError)) throw e
        if (e.code === 'ERR_FLUENT_QUEUE_FULL') result.dropped++
        result.errors.push({ index: i, error: e })
      }
    }
    return result
  }

  /**
   * Buffers one record already encoded as a msgpack map. It is validated (structure, UTF-8, string
   * keys), not trusted: anything else throws ERR_FLUENT_ENCODE and nothing is buffered.
   */
  emitRaw(tag: string, bytes: Uint8Array, time?: Time): boolean {
    if (!(bytes instanceof Uint8Array)) {
      throw new FluentError('ERR_FLUENT_INVALID_RECORD', 'bytes must be a Buffer or Uint8Array')
    }
    const id = this.#tagId(tag)
    splitTime(time)
    const sec = timeSec
    const nsec = timeNsec
    if (this.#closing !== undefined) return this.#refuseClosed()
    // Staged records were emitted first, so they go first.
    handOver()
    const status = this.#native.pushRaw(bytes, bytes.length, id, sec, nsec)
    if (status === ACCEPTED) return true
    if (status === -4) throw new FluentError('ERR_FLUENT_ENCODE', 'bytes are not exactly one valid msgpack map with string keys')
    return this.#refused(status)
  }

  #refused(status: number): false {
    switch (status) {
      case DROPPED:
        return false
      case QUEUE_FULL:
        throw new FluentError('ERR_FLUENT_QUEUE_FULL', 'buffer full (overflow policy "error"): record refused', { records: 1 })
      case TOO_LARGE:
        throw new FluentError('ERR_FLUENT_RECORD_TOO_LARGE', `record exceeds maxRecordBytes (${this.#maxRecord})`)
      case UNKNOWN_TAG:
        throw new FluentError('ERR_FLUENT_INVALID_TAG', 'unknown tag')
      default:
        throw new FluentError('ERR_FLUENT_INVALID_TIME', 'invalid time')
    }
  }

  #dispatch(ev: JsEvent): void {
    try {
      if (ev.kind === 'connect') super.emit('connect')
      else if (ev.kind === 'disconnect') super.emit('disconnect', ev.code ? toError(ev) : undefined)
      else this.#report(toError(ev))
    } catch (e) {
      // A throwing listener must not become an uncaught exception from native code.
      process.emitWarning(`fluent-native: an event listener threw: ${(e as Error)?.stack ?? String(e)}`)
    }
  }

  #report(err: FluentError): void {
    if (this.listenerCount('error') === 0) {
      this.#unhandled++
      return
    }
    try {
      super.emit('error', err)
    } catch (e) {
      process.emitWarning(`fluent-native: an 'error' listener threw: ${(e as Error)?.stack ?? String(e)}`)
    }
  }

  /** Resolves once every record emitted before the call is written (acknowledged, with `requireAck`). */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000
    handOver()
    const ok = await this.#native.flush(timeoutMs)
    if (!ok) throw new FluentError('ERR_FLUENT_TIMEOUT', `flush did not complete within ${timeoutMs} ms`)
  }

  /** Stops accepting records, drains within the deadline, and reports what was and was not delivered. */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    if (this.#closing) return this.#closing
    const timeoutMs = options.timeoutMs ?? 5000
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new FluentError('ERR_FLUENT_CONFIG', 'timeoutMs must be a non-negative integer'))
    }
    // Stays in `live`: if the process exits before the drain ends, the exit hook still waits for it.
    release(this)
    this.#sendRefusals()
    this.#closing = this.#native.close(timeoutMs).then((r) => ({ ...r, dropped: r.dropped + this.#droppedAfterClose }))
    return this.#closing
  }

  /** @internal Process exit: blocks for at most `exitFlushTimeoutMs` while buffered records drain. */
  closeSync(): void {
    release(this)
    this.#sendRefusals()
    if (this.#exitFlushMs > 0 || this.#closing === undefined) this.#native.closeSync(this.#exitFlushMs)
  }

  stats(): FluentStats {
    handOver()
    this.#sendRefusals()
    const s = this.#native.stats()
    return { ...s, dropped: s.dropped + this.#droppedAfterClose, unhandledErrors: this.#unhandled }
  }
}
