/**
 * FluentClient: the public class. It encodes on the JS thread (encoder.ts, through the stage) and
 * leaves batching, framing, compression, acks, retries and reconnects to the native writer thread.
 */
import { EventEmitter } from 'node:events'
import { ENTRY_OVERHEAD_EVENT_TIME, ENTRY_OVERHEAD_INTEGER_TIME, NativeClient, STAGING_NOW } from '../binding.js'
import type { JsEvent, JsExitReport } from '../binding.js'
import { Delivered, FailedBatch } from './batch.js'
import type { BatchReason } from './batch.js'
import { spliced } from './encoder.js'
import { publishError, publishEvent } from './diagnostics.js'
import { encodeError, identityTerms, publicStats, serverNames, toError } from './client-shapes.js'
import { FluentError, fromNative } from './errors.js'
import type { FluentErrorCode } from './errors.js'
import type { TypedListeners } from './events.js'
import { register, warnNow } from './exit.js'
import type { ExitHandle } from './exit.js'
import type { ErrorHandler } from './fallbacks.js'
import { HandlerRunner } from './handler.js'
import { checkLoggerOptions, rootLogger } from './logger.js'
import type { Logger, LoggerOptions } from './logger.js'
import { renderMetrics } from './metrics.js'
import type { Labels } from './metrics.js'
import { checkCallOptions, checkClientOptions, defaultOf } from './options.js'
import { claim, commit, encode, handOver, nativeSink, nested, release, stageNested } from './stage.js'
import type { StageSink } from './stage.js'
import { split, splitTime } from './time.js'
import { DrainWatch } from './drain.js'
import { setInternals } from './internal.js'
import { FluentWritable } from './writable.js'
import { EMITTER_EVENTS, MAX_TAG_CACHE, TagIds, TOO_MANY_TAGS } from './tag-ids.js'
import type { WritableOptions } from './writable.js'
import type { Time } from './time.js'
import type {
  CloseOptions,
  CloseReport,
  EmitManyResult,
  FlushOptions,
  FluentClientOptions,
  FluentStats,
  OverflowPolicy,
} from './types.js'

// Typed listeners (src/events.ts): a declaration merged with the class, no code.
export interface FluentClient {
  /** Adds a listener for one of the client's events (see `FluentClientEvents`). */
  on: TypedListeners<this>['on']
  /** Adds a listener called once. */
  once: TypedListeners<this>['once']
  /** Removes a listener. */
  off: TypedListeners<this>['off']
  /** Same as `on`. */
  addListener: TypedListeners<this>['addListener']
  /** Same as `off`. */
  removeListener: TypedListeners<this>['removeListener']
  /** Adds a listener before the others. */
  prependListener: TypedListeners<this>['prependListener']
  /** Adds a listener, called once, before the others. */
  prependOnceListener: TypedListeners<this>['prependOnceListener']
  /** The listeners of an event. */
  listeners: TypedListeners<this>['listeners']
  /** How many listeners an event has. */
  listenerCount: TypedListeners<this>['listenerCount']
  /** Removes every listener (of one event, or of all). */
  removeAllListeners: TypedListeners<this>['removeAllListeners']
}

/**
 * Events: `'connect'` (server), `'disconnect'` (err, server), `'error'` (FluentError), `'breaker'`
 * ({ state, server }: a server's circuit breaker opened, half-opened for a probe, or closed),
 * `'delivered'` (a DeliveredBatch per batch, only computed while someone listens) and `'drain'`
 * (after records were refused for lack of room, the buffer is back at half its cap or below).
 * `server` is `host:port` or the socket path. Errors with no `'error'` listener are counted in
 * `stats().unhandledErrors`, never thrown.
 */
export class FluentClient extends EventEmitter {
  readonly #native: NativeClient
  readonly #sink: StageSink
  /** Tag ids by tag; tags named like EventEmitter events live apart so the hot lookup needs no check. */
  readonly #tags = new TagIds(MAX_TAG_CACHE)
  readonly #eventTags = new TagIds(MAX_TAG_CACHE)
  readonly #maxRecord: number
  readonly #cap: number
  readonly #policy: OverflowPolicy
  /** What a record costs against the cap beyond its own bytes, at most (from the native side). */
  readonly #overhead: number
  /**
   * Buffered bytes as of the last handover plus what was staged since: never below the truth, since
   * only this thread adds to this client's buffer and the writer only takes away. A record that fits
   * under it is certainly accepted; one that may not is handed over at once and the native side,
   * which owns the overflow policy, decides.
   */
  #estimate = 0
  readonly #exitMs: number
  /** Each server's address as events name it: `host:port` or the socket path. */
  readonly #servers: string[]
  readonly #handlers: HandlerRunner | undefined
  readonly #exitHandle: ExitHandle
  #closing: Promise<CloseReport> | undefined
  /** The close promise settled: its report (and UNDELIVERED events) already told the user. */
  #closeSettled = false
  #exited = false
  #unhandled = 0
  #closedReported = false
  #droppedAfterClose = 0
  /** Looks for room after a refusal (src/drain.ts); made on first use. */
  #drain: DrainWatch | undefined

  constructor(options: FluentClientOptions = {}) {
    super()
    const native = checkClientOptions(options)
    this.#maxRecord = native.maxRecordBytes ?? defaultOf('maxRecordBytes')
    this.#cap = native.maxBufferBytes ?? defaultOf('maxBufferBytes')
    this.#policy = (native.overflow as OverflowPolicy | undefined) ?? 'dropNewest'
    this.#overhead = native.timeAsInteger ? ENTRY_OVERHEAD_INTEGER_TIME : ENTRY_OVERHEAD_EVENT_TIME
    this.#exitMs = native.exitFlushTimeoutMs ?? defaultOf('exitFlushTimeoutMs')
    this.#servers = serverNames(native)
    const handler = (options as { errorHandler?: ErrorHandler }).errorHandler
    this.#handlers =
      handler === undefined
        ? undefined
        : new HandlerRunner(
            handler,
            (options as { errorHandlerTimeoutMs?: number }).errorHandlerTimeoutMs ?? defaultOf('errorHandlerTimeoutMs'),
            native.errorHandlerMaxBytes ?? defaultOf('errorHandlerMaxBytes'),
            {
              report: (err) => this.#report(err),
              // After close nothing can be buffered again: the runner counts those records as dropped.
              requeue: (tag, bytes) => (this.#closing === undefined ? this.#requeue(tag, bytes) : 0),
            },
          )
    // Delivery reports copy every batch: the native side makes them only while someone listens. A
    // spool's replay may deliver before a listener added right after this constructor could ask, so
    // with a spool they start on, and go off after this turn if nobody listens.
    const replays = native.spool !== undefined
    if (replays) native.deliveryReports = true
    // The callback holds the client weakly: the native side roots it for the client's whole life.
    const ref = new WeakRef(this)
    try {
      this.#native = new NativeClient(native, (ev: JsEvent) => {
        const self = ref.deref()
        if (self !== undefined) self.#dispatch(ev)
      })
    } catch (e) {
      throw fromNative(e, 'ERR_FLUENT_CONFIG')
    }
    const id = this.#native.id
    this.#sink = nativeSink(id, (bytes) => (this.#estimate = bytes), native.flushIntervalMs ?? defaultOf('flushIntervalMs'))
    // The registry holds the handle weakly; the client holds it strongly: it lives as long as the client.
    this.#exitHandle = {
      id,
      begin: () => this.#beginExit(),
      end: (report) => this.#endExit(report),
    }
    register(this, this.#exitHandle)
    const unheard = () => this.listenerCount('delivered') === 0
    if (replays) setImmediate(() => unheard() && this.#native.setDeliveryReports(false))
    this.on('newListener', (name: string | symbol) => {
      if (name === 'delivered') this.#native.setDeliveryReports(true)
    })
    this.on('removeListener', (name: string | symbol) => {
      if (name === 'delivered' && unheard()) this.#native.setDeliveryReports(false)
    })
    setInternals(this, {
      id,
      limits: { maxBufferBytes: this.#cap, maxRecordBytes: this.#maxRecord, overhead: this.#overhead },
      handoverDelayMs: this.#sink.delayMs,
      watchDrain: (hold) => this.#watchDrain(hold),
    })
  }

  /** The id of a tag from either cache, or a fresh one (for the methods that are not EventEmitter's). */
  #idOf(tag: string): number {
    return this.#tags.get(tag) ?? this.#eventTags.get(tag) ?? this.#tagId(tag, EMITTER_EVENTS.has(tag) ? this.#eventTags : this.#tags)
  }

  #tagId(tag: string, cache: TagIds): number {
    if (typeof tag !== 'string' || tag.length === 0) {
      throw new FluentError('ERR_FLUENT_INVALID_TAG', `tag must be a non-empty string, got ${tag === '' ? 'an empty string' : typeof tag}`)
    }
    let fresh: number
    try {
      fresh = this.#native.tagId(tag)
    } catch (e) {
      // The table of live tags is full: forget the idle ones and try once more (REVIEW-0.2 A4).
      if (!TOO_MANY_TAGS.test(String((e as Error)?.message)) || !this.#forgetIdleTags()) throw fromNative(e, 'ERR_FLUENT_INVALID_TAG')
      try {
        fresh = this.#native.tagId(tag)
      } catch (e2) {
        throw fromNative(e2, 'ERR_FLUENT_INVALID_TAG')
      }
    }
    cache.set(tag, fresh)
    return fresh
  }

  /**
   * Tags are not a lifetime budget: when the native table of live tags is full, the tags with
   * nothing buffered are forgotten and their ids reused. Staged records are handed over first (a
   * tag whose records are only staged looks idle natively), and the caches are cleared after: the
   * ids they held may now stand for other tags. Not while a record is being encoded: its tag id is
   * already written into the stage. Pinned tags (loggers', streams') keep their ids.
   */
  #forgetIdleTags(): boolean {
    if (nested()) return false
    handOver()
    const forgotten = this.#native.forgetIdleTags()
    this.#tags.clear()
    this.#eventTags.clear()
    return forgotten > 0
  }

  /**
   * Buffers one record; never waits on the network. Returns `true` if the record was accepted into
   * the buffer, `false` if the overflow policy or a closed client refused it (counted as dropped).
   * Throws FluentError for a bad tag, record or time, or a full buffer under `overflow: 'error'`.
   */
  emit(tag: string, record: object, time?: Time): boolean
  emit(tag: string | symbol, record?: unknown, time?: unknown, ...rest: unknown[]): boolean {
    let id = this.#tags.get(tag)
    if (id === undefined) {
      if (typeof tag === 'symbol') return super.emit(tag, record, time, ...rest)
      if (EMITTER_EVENTS.has(tag)) {
        // Listeners are called through super.emit, never through here: a string tag is a record
        // (`emit('error', err)` logs it), except EventEmitter's own `emit('newListener', name, fn)`.
        const own = (tag === 'newListener' || tag === 'removeListener') && (typeof record === 'string' || typeof record === 'symbol')
        if (own) return super.emit(tag, record, time, ...rest)
        id = this.#eventTags.get(tag) ?? this.#tagId(tag, this.#eventTags)
      } else {
        id = this.#tagId(tag, this.#tags)
      }
    }
    splitTime(time as Time | undefined)
    return this.#stage(id, record, split.sec, split.nsec)
  }

  /** Encodes one record onto the stage; the answer is the truth for every overflow policy. */
  #stage(id: number, record: unknown, sec: number, nsec: number): boolean {
    if (this.#closing !== undefined) return this.#refuseClosed()
    if (nested()) {
      // Logged from inside another record (a getter, toJSON, a trap): encoded apart and pushed alone.
      let answer: number
      try {
        answer = stageNested(this.#sink, id, record, sec, nsec, this.#maxRecord)
      } catch (e) {
        throw encodeError(e)
      }
      return this.#answer(answer)
    }
    claim(this.#sink)
    let length: number
    try {
      length = encode(id, record, sec, nsec, this.#maxRecord)
    } catch (e) {
      throw encodeError(e)
    }
    // A getter may have closed this client while the record was encoded.
    if (this.#closing !== undefined) return this.#refuseClosed()
    const entry = length + this.#overhead
    if (this.#estimate + entry <= this.#cap) {
      commit(length, false)
      this.#estimate += entry
      return true
    }
    return this.#answer(commit(length, true))
  }

  /**
   * A leveled logger writing to this client under `options.tag` (src/logger.ts): bound `fields` are
   * encoded once, a disabled level costs a comparison. Throws FluentError for bad options or fields.
   */
  logger(options: LoggerOptions): Logger {
    const { level, levelKey, messageKey, trace } = checkLoggerOptions(options)
    this.#idOf(options.tag)
    // The logger holds its tag's id for its life: pinned, never forgotten (see #forgetIdleTags).
    const id = this.#native.pinTag(options.tag)
    const core = {
      stage: () => this.#stage(id, spliced, 0, STAGING_NOW),
      report: (err: FluentError) => process.nextTick(() => this.#report(err)),
      maxRecordBytes: this.#maxRecord,
      levelKey,
      messageKey,
      trace,
    }
    return rootLogger(core, level, options.fields)
  }

  /** Turns a native push answer (see `pushStaged`) into emit's result. */
  #answer(answer: number): boolean {
    if (answer >= 0 && answer % 2 === 1) return true
    if (answer >= 0 && this.#closing === undefined) this.#watchDrain(false)
    if (answer >= 0 && this.#policy === 'error' && this.#closing === undefined) {
      throw new FluentError('ERR_FLUENT_QUEUE_FULL', 'buffer full (overflow policy "error"): record refused', { records: 1 })
    }
    return false
  }

  /**
   * After close the native side may already have stopped, so these drops are counted here and added
   * to the close report and to stats(). Reported once; at exit, synchronously.
   */
  #refuseClosed(): false {
    this.#droppedAfterClose++
    if (!this.#closedReported) {
      this.#closedReported = true
      const err = new FluentError('ERR_FLUENT_CLOSED', 'client is closed: records emitted after close() or exit are dropped')
      if (this.#exited) this.#reportNow(err)
      else process.nextTick(() => this.#report(err))
    }
    return false
  }

  /** Encodes and buffers many records for one tag. Bad records are returned in `errors`, the rest are sent. */
  emitMany(tag: string, records: readonly object[], time?: Time): EmitManyResult {
    if (!Array.isArray(records)) {
      throw new FluentError('ERR_FLUENT_INVALID_RECORD', 'records must be an array')
    }
    const id = this.#idOf(tag)
    const result: EmitManyResult = { accepted: 0, dropped: 0, errors: [] }
    splitTime(time)
    const sec = split.sec
    const nsec = split.nsec
    for (let i = 0; i < records.length; i++) {
      try {
        if (this.#stage(id, records[i], sec, nsec)) result.accepted++
        else result.dropped++
      } catch (e) {
        const error = e instanceof FluentError ? e : encodeError(e)
        if (error.code === 'ERR_FLUENT_QUEUE_FULL') result.dropped++
        result.errors.push({ index: i, error })
      }
    }
    return result
  }

  /**
   * Buffers one record already encoded as a msgpack map. It is validated (structure, UTF-8, string
   * keys, no ext type but EventTime), not trusted: anything else throws ERR_FLUENT_ENCODE and
   * nothing is buffered.
   */
  emitRaw(tag: string, bytes: Uint8Array, time?: Time): boolean {
    if (!(bytes instanceof Uint8Array)) {
      throw new FluentError('ERR_FLUENT_INVALID_RECORD', 'bytes must be a Buffer or Uint8Array')
    }
    const id = this.#idOf(tag)
    splitTime(time)
    const sec = split.sec
    const nsec = split.nsec
    if (this.#closing !== undefined) return this.#refuseClosed()
    // Staged records were emitted first, so they go first.
    handOver()
    let answer: number
    try {
      answer = this.#native.pushRaw(bytes, id, sec, nsec)
    } catch (e) {
      throw fromNative(e, 'ERR_FLUENT_ENCODE')
    }
    this.#estimate = Math.floor(answer / 2)
    return this.#answer(answer)
  }

  /**
   * Buffers msgpack entries (`[time, record]` each, as a failure handler's or a 'delivered'
   * event's `batch.bytes` carry them) under `tag`, keeping each record's time: the bytes move as
   * they are, validated, not re-encoded. Returns how many records were accepted (the others were
   * refused by the overflow policy, as `emit` would be). Throws ERR_FLUENT_ENCODE at the first
   * invalid entry; the entries before it stay buffered.
   */
  emitEntries(tag: string, bytes: Uint8Array): number {
    if (!(bytes instanceof Uint8Array)) {
      throw new FluentError('ERR_FLUENT_INVALID_RECORD', 'bytes must be a Buffer or Uint8Array of msgpack entries')
    }
    this.#idOf(tag)
    if (this.#closing !== undefined) {
      this.#refuseClosed()
      return 0
    }
    return this.#pushEntries(tag, bytes)
  }

  #pushEntries(tag: string, bytes: Uint8Array): number {
    // Staged records were emitted first, so they go first.
    handOver()
    let pushed
    try {
      pushed = this.#native.pushEntries(this.#idOf(tag), bytes)
    } catch (e) {
      throw fromNative(e, 'ERR_FLUENT_ENCODE')
    }
    this.#estimate = pushed.queuedBytes
    return pushed.accepted
  }

  /** A failure handler gives records back: where they fit, never through the overflow policy. */
  #requeue(tag: string, bytes: Uint8Array): number {
    handOver()
    const pushed = this.#native.requeueEntries(this.#idOf(tag), bytes)
    this.#estimate = pushed.queuedBytes
    return pushed.accepted
  }

  /**
   * Gives the failure handler what waits for it in the native hand-over store (on its doorbell, at
   * close, at exit). Until taken, those records are counted as pending there; from here the
   * runner counts them. After close nothing is retriable (nothing can be buffered again).
   */
  #takeUndelivered(run: (err: FluentError, batch: FailedBatch) => void): void {
    for (const k of this.#native.takeUndelivered()) {
      const err = new FluentError(k.code as FluentErrorCode, k.message, { records: k.records, tag: k.tag })
      run(err, new FailedBatch(k.tag, k.entries, k.records, k.reason as BatchReason, k.retriable && this.#closing === undefined))
    }
  }

  /** The server an event concerns: its own address (a DNS member's slot is reused by the next one). */
  #serverName(ev: JsEvent): string {
    if (ev.kind !== 'error' && ev.address != null) return ev.address
    return this.#servers[ev.server ?? 0] ?? this.#servers[0]
  }

  #dispatch(ev: JsEvent): void {
    try {
      publishEvent(this, this.#serverName(ev), ev, toError)
      if (ev.kind === 'connect') super.emit('connect', this.#serverName(ev))
      else if (ev.kind === 'breaker') super.emit('breaker', { state: ev.state, server: this.#serverName(ev) })
      else if (ev.kind === 'disconnect') super.emit('disconnect', ev.code ? toError(ev) : undefined, this.#serverName(ev))
      else if (ev.kind === 'delivered') {
        if (this.listenerCount('delivered') === 0) return
        const batch = new Delivered(ev.tag as string, ev.entries as Buffer, ev.records ?? 0, this.#serverName(ev), ev.acked === true)
        super.emit('delivered', batch)
      } else if (ev.kind === 'handover') {
        const h = this.#handlers
        if (h !== undefined) this.#takeUndelivered((err, batch) => h.run(err, batch))
      } else this.#report(toError(ev))
    } catch (e) {
      // A throwing listener must not become an uncaught exception from native code.
      process.emitWarning(`fluent-native: an event listener threw: ${(e as Error)?.stack ?? String(e)}`)
    }
  }

  #report(err: FluentError): void {
    publishError(this, err)
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

  /** At exit: to the 'error' listeners if there are any, else one warning line, now. */
  #reportNow(err: FluentError): void {
    if (this.listenerCount('error') > 0) return this.#report(err)
    publishError(this, err)
    this.#unhandled++
    warnNow(`fluent-native: ${err.message}`, err.code)
  }

  /**
   * Resolves once every record emitted before the call is written (acknowledged, with `requireAck`).
   * Rejects with ERR_FLUENT_UNDELIVERED (`err.records`) if records were given up on since the
   * previous flush call (dropOldest, rejected by the server, close deadline), and with
   * ERR_FLUENT_TIMEOUT at `timeoutMs`.
   */
  flush(options: FlushOptions = {}): Promise<void> {
    const { timeoutMs } = checkCallOptions('flush', options)
    handOver()
    return this.#native.flush(timeoutMs).then((answer) => {
      if (answer === 0) return
      if (answer < 0) throw new FluentError('ERR_FLUENT_TIMEOUT', `flush did not complete within ${timeoutMs} ms`)
      throw new FluentError('ERR_FLUENT_UNDELIVERED', `${answer} record(s) were given up on before the flush completed`, {
        records: answer,
      })
    })
  }

  /**
   * Stops accepting records, drains within the deadline, and reports what was and was not delivered.
   * Calling it again returns the same promise (a shorter timeout brings the deadline closer).
   */
  close(options: CloseOptions = {}): Promise<CloseReport> {
    const { timeoutMs } = checkCallOptions('close', options)
    if (this.#closing !== undefined) {
      if (!this.#closeSettled) void this.#native.close(timeoutMs)
      return this.#closing
    }
    // Stays registered for exit: if the process exits before the drain ends, the exit waits for it.
    release(this.#sink)
    this.#closing = this.#native.close(timeoutMs).then(async (r) => {
      const h = await this.#settleHandlers()
      this.#closeSettled = true
      const after = this.#droppedAfterClose
      // `emitted + refused = sent + dropped + rejected + handled + pending`. What the close left is
      // `pending` (with a handler: what the handler did not take of it); what the handler let go
      // of before is `dropped`.
      return {
        emitted: r.emitted,
        refused: r.refused + after,
        sent: r.sent,
        dropped: r.dropped + after + (h === undefined ? 0 : h.dropped - h.droppedAtDeadline),
        rejected: r.rejected,
        handled: h?.handled ?? 0,
        pending: h === undefined ? r.pending : h.droppedAtDeadline,
        replayed: r.replayed,
        spooled: r.spooled,
      }
    })
    return this.#closing
  }

  /** What the writer still held when it stopped, as failure-handler calls (each batch once). */
  #leftovers(reason: 'close' | 'exit'): Array<[FluentError, FailedBatch]> {
    return this.#native.takeLeftovers().map((b) => [
      new FluentError('ERR_FLUENT_UNDELIVERED', `${b.records} record(s) not delivered before the ${reason} deadline`, {
        records: b.records,
        tag: b.tag,
      }),
      new FailedBatch(b.tag, b.entries, b.records, reason, false),
    ])
  }

  /**
   * Once the writer has stopped: gives the handler what still waits in the hand-over store and
   * what was left at the deadline, and waits for it to finish, for at most `errorHandlerTimeoutMs`
   * (see `HandlerRunner.finish`). Nothing is on its way any more: the store is the only way over.
   */
  async #settleHandlers(): Promise<HandlerRunner | undefined> {
    const h = this.#handlers
    if (h === undefined) return undefined
    this.#takeUndelivered((err, batch) => h.run(err, batch))
    for (const [err, batch] of this.#leftovers('close')) h.run(err, batch)
    await h.finish()
    return h
  }

  #beginExit(): void {
    release(this.#sink)
    this.#exited = true
    this.#closing ??= Promise.resolve({ emitted: 0, refused: 0, sent: 0, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
  }

  #endExit(r: JsExitReport | undefined): number {
    if (r === undefined || this.#closeSettled) return 0
    let pending = r.pending
    const h = this.#handlers
    if (h !== undefined) {
      // No later tick will come: the handler gets what is left now (the hand-over store too), and
      // only a synchronous answer counts. Batches still waiting on an asynchronous answer are lost.
      const before = h.handled + h.dropped
      this.#takeUndelivered((err, batch) => h.runSync(err, new FailedBatch(batch.tag, batch.bytes, batch.count, 'exit', false)))
      for (const [err, batch] of this.#leftovers('exit')) h.runSync(err, batch)
      pending = h.dropped - before + h.inHand
    }
    if (pending <= 0) return 0
    const err = new FluentError(
      'ERR_FLUENT_UNDELIVERED',
      `${pending} record(s) not delivered before the exit deadline (exitFlushTimeoutMs ${this.#exitMs}); ${identityTerms(this.stats())}`,
      { records: pending },
    )
    if (this.listenerCount('error') === 0) {
      this.#unhandled++
      return pending
    }
    this.#report(err)
    return 0
  }

  /**
   * A Writable that logs under `tag`: records in object mode, NDJSON text (transcoded in Rust)
   * otherwise. It never drops: `write()` returns false while the buffer is full, `'drain'` follows
   * when there is room, and `end()` finishes once what was written is delivered (see src/writable.ts).
   */
  toWritable(tag: string, options: WritableOptions = {}): FluentWritable {
    return new FluentWritable(this, tag, options)
  }

  /** Looks for room until `'drain'`; `hold` keeps the process alive meanwhile. */
  #watchDrain(hold: boolean): void {
    this.#drain ??= new DrainWatch(this.#native.id, this.#cap, () => super.emit('drain'))
    this.#drain.arm(hold)
  }

  /** `stats()` as Prometheus text exposition (`fluent_native_*`, see src/metrics.ts); `labels` go on every sample. */
  metrics(labels?: Labels): string {
    return renderMetrics(this.stats(), labels)
  }

  /**
   * A snapshot of the counters and state (see {@link FluentStats}). The accounting identity holds
   * exactly once the client has stopped; while it runs, a batch moving between counters may show in two.
   */
  stats(): FluentStats {
    handOver()
    return publicStats(this.#native.stats(), this.#handlers, this.#droppedAfterClose, this.#unhandled)
  }

}
