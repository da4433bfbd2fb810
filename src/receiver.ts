/**
 * FluentReceiver: a Forward-protocol server for tests and local development. The decoding (every
 * mode, gzip, zstd, acks, TLS) is the Rust receiver linked into the addon, on its own threads; JS only
 * sees the events, and only while someone listens for them.
 */
import { EventEmitter } from 'node:events'
import { NativeReceiver } from '../binding.js'
import type { JsReceiverStats } from '../binding.js'
import { decodeBatch } from './receiver-decode.js'
import type { DecodedBatch, ReceivedEvent } from './receiver-decode.js'
import { FluentError, fromNative } from './errors.js'

export type { ReceivedEvent } from './receiver-decode.js'

/** Options of `FluentReceiver.listen()`. */
export interface FluentReceiverOptions {
  /** Default `'127.0.0.1'`. */
  host?: string
  /** Default `0`: any free port (read it from `receiver.port`). */
  port?: number
  /** Unix socket path, instead of host and port. A stale socket file there is replaced. */
  path?: string
  /** Acknowledge requests that ask for it (`requireAck`), as fluentd does. Default `true`. */
  ack?: boolean
  /** TLS listener: PEM certificate chain and private key. */
  tls?: {
    /** PEM certificate chain. */
    cert: string | Buffer
    /** PEM private key. */
    key: string | Buffer
  }
  /**
   * Require the Forward handshake (fluentd `<security>`): clients must know `sharedKey` and, with
   * `users`, one username/password pair. `selfHostname` (default `'fluent-native-receiver'`) is
   * the name a client must not claim as its own.
   */
  security?: {
    /** The key clients must know. */
    sharedKey: string
    /** The receiver's name in the handshake. */
    selfHostname?: string
    /** Accepted users; with none, the shared key alone admits a client. */
    users?: Array<{
      /** A user name. */
      username: string
      /** Its password. */
      password: string
    }>
  }
  /** Decoding threads. Default 1 (over a million small events a second). */
  threads?: number
  /**
   * Events each `for await` loop may have waiting before further ones are dropped for it (counted in
   * `stats().eventsDropped`). Default 100,000.
   */
  maxBufferedEvents?: number
  /**
   * Largest request in wire bytes; a longer one closes its connection (counted in `tooLarge` and
   * `errors`). Default 6,144,000 (Fluent Bit's `buffer_max_size`). 1024..2^30.
   */
  maxRequestBytes?: number
  /** Largest size a gzip or zstd request may inflate to; more closes the connection. Default 24,576,000. 1024..2^30. */
  maxInflatedBytes?: number
  /** Connections served at once; more are closed as they arrive (counted in `refused`). Default 1024. */
  maxConnections?: number
  /** A connection that starts no request for this long is closed. Default 300,000 (5 minutes). */
  idleTimeoutMs?: number
  /** A request must arrive whole within this long of its first byte, else its connection is closed. Default 30,000. */
  requestTimeoutMs?: number
  /** TLS accept and the Forward handshake (`security`) must finish within this. Default 10,000. */
  handshakeTimeoutMs?: number
}

/** The receiver's counters, from `stats()`. */
export interface FluentReceiverStats {
  /** Valid events decoded. */
  events: number
  /** Forward requests decoded. */
  requests: number
  /** Bytes read from clients. */
  bytes: number
  /** Acks sent. */
  acks: number
  /** Entries that were not valid events (bad time, record not a map, non-string tag). */
  invalid: number
  /** Requests whose `size` option disagreed with their entries. */
  sizeMismatch: number
  /** Connections accepted since listen. */
  connections: number
  /** Connections closed for undecodable input, limits, request/handshake timeouts, failed TLS handshakes and I/O errors. */
  errors: number
  /** Events a `for await` loop could not take because its buffer was full, and decoded events that could not be handed to JS (its thread was gone). */
  eventsDropped: number
  /** Requests refused for `maxRequestBytes` or `maxInflatedBytes` (each also an error). */
  tooLarge: number
  /** Connections closed by the idle, request or handshake timeout. */
  timeouts: number
  /** Connections closed on arrival because `maxConnections` were open. */
  refused: number
  /** Connections open now. */
  openConnections: number
  /** Bytes the receiver holds now for its clients (read, inflate and batch buffers; see docs/receiver.md). */
  memoryBytes: number
  /** The most `memoryBytes` has been since listen. */
  memoryPeakBytes: number
}

const KEYS = new Set([
  'host',
  'port',
  'path',
  'ack',
  'tls',
  'security',
  'threads',
  'maxBufferedEvents',
  'maxRequestBytes',
  'maxInflatedBytes',
  'maxConnections',
  'idleTimeoutMs',
  'requestTimeoutMs',
  'handshakeTimeoutMs',
])

type Security = NonNullable<FluentReceiverOptions['security']>

function checkSecurity(s: unknown): Security | undefined {
  if (s === undefined) return undefined
  const bad = (what: string) => configError(`security.${what}`)
  if (s === null || typeof s !== 'object') throw configError('security must be { sharedKey, selfHostname?, users? }')
  const { sharedKey, selfHostname, users, ...rest } = s as Security
  for (const k of Object.keys(rest)) throw configError(`unknown security option "${k}"`)
  if (typeof sharedKey !== 'string') throw bad('sharedKey must be a string')
  if (selfHostname !== undefined && (typeof selfHostname !== 'string' || selfHostname === '')) throw bad('selfHostname must be a non-empty string')
  if (users !== undefined) {
    if (!Array.isArray(users)) throw bad('users must be an array of { username, password }')
    for (const u of users) {
      if (u === null || typeof u !== 'object' || typeof u.username !== 'string' || typeof u.password !== 'string') {
        throw bad('users must be an array of { username, password }')
      }
    }
  }
  return { sharedKey, selfHostname, users: users?.map((u) => ({ username: u.username, password: u.password })) }
}

function configError(message: string): FluentError {
  return new FluentError('ERR_FLUENT_CONFIG', message)
}

function pem(v: unknown, name: string): Buffer {
  if (typeof v === 'string') return Buffer.from(v)
  if (Buffer.isBuffer(v)) return v
  throw configError(`tls.${name} must be a PEM string or Buffer`)
}

function positiveInt(v: unknown, name: string, max: number, min = 1): number | undefined {
  if (v === undefined) return undefined
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) throw configError(`${name} must be an integer in ${min}..${max}`)
  return v as number
}

/** The native u32 timeouts: up to a day, as every other timeout of the package. */
const MAX_MS = 24 * 3600 * 1000

/** One `for await` loop's waiting events. */
interface Waiting {
  queue: ReceivedEvent[]
  wake: ((r: IteratorResult<ReceivedEvent>) => void) | undefined
}

/**
 * Events: `'event'` ({ tag, time, record }), `'invalid'` (a FluentError ERR_FLUENT_INVALID_RECORD
 * with the event's `tag`: an event that could not be decoded into JS; its neighbours are still
 * delivered), `'close'`.
 */
export class FluentReceiver extends EventEmitter implements AsyncIterable<ReceivedEvent> {
  readonly #native: NativeReceiver
  readonly #path: string | undefined
  readonly #maxBuffered: number
  readonly #loops = new Set<Waiting>()
  /** Keeps the process alive while listening, as a net.Server does (see `unref`). */
  readonly #keepAlive: NodeJS.Timeout
  /** Events handed to listeners and loops, to compare with the native `eventsRelayed`. */
  #dispatched = 0
  #dropped = 0
  /** Events the native side counted valid that JS could not decode: moved from events to invalid. */
  #undecodable = 0
  #warned = false
  #closed = false

  private constructor(options: FluentReceiverOptions) {
    super()
    if (options === null || typeof options !== 'object') throw configError('options must be an object')
    for (const k of Object.keys(options)) if (!KEYS.has(k)) throw configError(`unknown receiver option "${k}"`)
    const { host, port, path, ack, tls, threads } = options
    const security = checkSecurity(options.security)
    if (path !== undefined && (host !== undefined || port !== undefined)) throw configError('set path or host/port, not both')
    if (path !== undefined && (typeof path !== 'string' || path.length === 0)) throw configError('path must be a non-empty string')
    if (host !== undefined && (typeof host !== 'string' || host.length === 0)) throw configError('host must be a non-empty string')
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw configError('port must be an integer in 0..65535')
    if (ack !== undefined && typeof ack !== 'boolean') throw configError('ack must be a boolean')
    if (tls !== undefined && (tls === null || typeof tls !== 'object')) throw configError('tls must be { cert, key }')
    this.#maxBuffered = positiveInt(options.maxBufferedEvents, 'maxBufferedEvents', 2 ** 31) ?? 100_000
    const ref = new WeakRef(this)
    try {
      this.#native = new NativeReceiver(
        {
          host,
          port,
          path,
          ack,
          threads: positiveInt(threads, 'threads', 64),
          tlsCert: tls === undefined ? undefined : pem(tls.cert, 'cert'),
          tlsKey: tls === undefined ? undefined : pem(tls.key, 'key'),
          sharedKey: security?.sharedKey,
          selfHostname: security?.selfHostname,
          users: security?.users,
          maxRequestBytes: positiveInt(options.maxRequestBytes, 'maxRequestBytes', 2 ** 30, 1024),
          maxInflatedBytes: positiveInt(options.maxInflatedBytes, 'maxInflatedBytes', 2 ** 30, 1024),
          maxConnections: positiveInt(options.maxConnections, 'maxConnections', 2 ** 31),
          idleTimeoutMs: positiveInt(options.idleTimeoutMs, 'idleTimeoutMs', MAX_MS),
          requestTimeoutMs: positiveInt(options.requestTimeoutMs, 'requestTimeoutMs', MAX_MS),
          handshakeTimeoutMs: positiveInt(options.handshakeTimeoutMs, 'handshakeTimeoutMs', MAX_MS),
        },
        (batch: Buffer) => {
          const self = ref.deref()
          if (self !== undefined) self.#onBatch(batch)
        },
      )
    } catch (e) {
      throw e instanceof FluentError ? e : fromNative(e, 'ERR_FLUENT_IO')
    }
    this.#path = path
    // The timer's callback holds the receiver, so a listening receiver is never collected (which
    // would close it behind the user's back), unref'd or not, until close() clears it.
    this.#keepAlive = setInterval(() => void this.#closed, 2 ** 30)
    this.on('newListener', (name) => {
      if (name === 'event') this.#native.setDelivery(true)
    })
    this.on('removeListener', (name) => {
      if (name === 'event') this.#updateDelivery()
    })
  }

  /** Binds and starts serving; rejects with ERR_FLUENT_CONFIG or ERR_FLUENT_IO (address in use...). */
  static async listen(options: FluentReceiverOptions = {}): Promise<FluentReceiver> {
    return new FluentReceiver(options)
  }

  /** The bound TCP port (undefined for a Unix socket). */
  get port(): number | undefined {
    return this.#native.port ?? undefined
  }

  /** The Unix socket path (undefined for TCP). */
  get path(): string | undefined {
    return this.#path
  }

  #updateDelivery(): void {
    this.#native.setDelivery(!this.#closed && (this.listenerCount('event') > 0 || this.#loops.size > 0))
  }

  #onBatch(batch: Buffer): void {
    let decoded: DecodedBatch
    try {
      decoded = decodeBatch(batch)
    } catch (e) {
      // Only a batch whose trailer is broken gets here (a bug on the native side): reported, counted.
      const n = batch.length >= 4 ? batch.readUInt32LE(batch.length - 4) : 0
      this.#undecodable += n
      this.#dispatched += n
      this.#reportInvalid(undefined, `a batch of ${n} event(s) could not be read: ${(e as Error)?.message ?? String(e)}`)
      return
    }
    const { events, invalid } = decoded
    this.#undecodable += invalid.length
    this.#dispatched += invalid.length
    for (const bad of invalid) this.#reportInvalid(bad.tag, bad.reason)
    for (const ev of events) {
      for (const loop of this.#loops) {
        if (loop.wake !== undefined) {
          const wake = loop.wake
          loop.wake = undefined
          wake({ value: ev, done: false })
        } else if (loop.queue.length < this.#maxBuffered) {
          loop.queue.push(ev)
        } else {
          this.#dropped++
        }
      }
      try {
        super.emit('event', ev)
      } catch (e) {
        process.emitWarning(`fluent-native: a FluentReceiver 'event' listener threw: ${(e as Error)?.stack ?? String(e)}`)
      }
    }
    this.#dispatched += events.length
  }

  #reportInvalid(tag: string | undefined, reason: string): void {
    const err = new FluentError('ERR_FLUENT_INVALID_RECORD', `FluentReceiver: an event${tag === undefined ? '' : ` tagged "${tag}"`} could not be decoded (${reason}); it is counted in stats().invalid`, { tag, records: 1 })
    if (this.listenerCount('invalid') > 0) {
      try {
        super.emit('invalid', err)
      } catch (e) {
        process.emitWarning(`fluent-native: a FluentReceiver 'invalid' listener threw: ${(e as Error)?.stack ?? String(e)}`)
      }
    } else if (!this.#warned) {
      // Once per receiver: a stream of bad events must not turn into a stream of warnings.
      this.#warned = true
      process.emitWarning(err)
    }
  }

  /** Every event from now on, until `close()`; breaking out of the loop stops its buffering. */
  [Symbol.asyncIterator](): AsyncIterator<ReceivedEvent> {
    const loop: Waiting = { queue: [], wake: undefined }
    const finish = (): IteratorResult<ReceivedEvent> => {
      this.#loops.delete(loop)
      this.#updateDelivery()
      return { value: undefined, done: true }
    }
    if (!this.#closed) {
      this.#loops.add(loop)
      this.#native.setDelivery(true)
    }
    return {
      next: () => {
        const ev = loop.queue.shift()
        if (ev !== undefined) return Promise.resolve({ value: ev, done: false })
        if (this.#closed || !this.#loops.has(loop)) return Promise.resolve(finish())
        return new Promise((resolve) => (loop.wake = resolve))
      },
      return: () => Promise.resolve(finish()),
    }
  }

  /** A snapshot of the counters. */
  stats(): FluentReceiverStats {
    const s: JsReceiverStats = this.#native.stats()
    return {
      events: s.events - this.#undecodable,
      requests: s.requests,
      bytes: s.bytes,
      acks: s.acks,
      invalid: s.invalid + this.#undecodable,
      sizeMismatch: s.sizeMismatch,
      connections: s.connections,
      errors: s.errors,
      eventsDropped: this.#dropped + s.eventsLost,
      tooLarge: s.tooLarge,
      timeouts: s.timeouts,
      refused: s.refused,
      openConnections: s.openConnections,
      memoryBytes: s.memoryBytes,
      memoryPeakBytes: s.memoryPeakBytes,
    }
  }

  /**
   * Resolves with `stats()` once at least `n` valid events arrived (and, if you listen for events,
   * were handed to your listeners and loops); rejects with ERR_FLUENT_TIMEOUT after `timeoutMs`.
   */
  waitFor(n: number, timeoutMs = 10_000): Promise<FluentReceiverStats> {
    if (!Number.isInteger(n) || n < 0) return Promise.reject(configError('waitFor: n must be a non-negative integer'))
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) return Promise.reject(configError('waitFor: timeoutMs must be a non-negative integer'))
    const until = Date.now() + timeoutMs
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const s = this.#native.stats()
        // Both sides in one unit: events JS could not decode count as relayed and dispatched, not as events.
        if (s.events - this.#undecodable >= n && this.#dispatched >= s.eventsRelayed) return resolve(this.stats())
        if (this.#closed || Date.now() >= until) {
          const why = this.#closed ? 'the receiver was closed' : `${timeoutMs} ms passed`
          return reject(new FluentError('ERR_FLUENT_TIMEOUT', `waitFor(${n}): ${s.events - this.#undecodable} event(s) arrived before ${why}`))
        }
        // Polling a few atomics: cheaper and simpler than a native wake-up for a test helper.
        setTimeout(check, 5)
      }
      check()
    })
  }

  /** Lets the process exit while the receiver is still listening (as `net.Server#unref`). */
  unref(): this {
    this.#keepAlive.unref()
    return this
  }

  /** Undoes `unref()`: a listening receiver keeps the process alive again. */
  ref(): this {
    this.#keepAlive.ref()
    return this
  }

  /** Stops listening and drops open connections; `for await` loops end after their waiting events. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#native.close()
    clearInterval(this.#keepAlive)
    for (const loop of this.#loops) {
      if (loop.wake !== undefined) {
        const wake = loop.wake
        loop.wake = undefined
        this.#loops.delete(loop)
        wake({ value: undefined, done: true })
      }
    }
    super.emit('close')
  }
}
