/**
 * `fluent-native/winston`: a winston 3 transport. `log(info, callback)` calls back as soon as the
 * record is in the native buffer, never after delivery: winston pipes every transport from one
 * stream, so a transport that calls back late (on delivery) stalls all of them, the console too,
 * while fluentd is down (fluent-logger-node#115). Delivery, retries and reconnects are the writer
 * thread's business; the buffer's byte cap and overflow policy bound what an outage costs.
 *
 * Problems reach winston the way its own transports report recoverable ones: as the transport's
 * `'warn'` (which the logger re-emits as its own `'warn'`). Never as `'error'`: winston re-emits a
 * transport's `'error'` on the logger, where an unheard one crashes the process, and a stream that
 * errored is unpiped. When nobody listens for `'warn'` (on the transport or the logger), the
 * error also goes to stderr (`process.emitWarning`): a failure to reach the server once per outage,
 * other codes once per 10 s (src/warnings.ts), so a wrong host name is never invisible.
 */
import TransportStream from 'winston-transport'
import { FluentClient } from './client.js'
import { checkOptionNames } from './options.js'
import type { FluentClientOptions } from './types.js'
import { warnings } from './warnings.js'

/** `FluentTransport`'s options: its tag, winston's transport options and every FluentClient option. */
export interface FluentTransportOptions extends FluentClientOptions, TransportStream.TransportStreamOptions {
  /** Tag of every record. Default `'winston'`. */
  tag?: string
}

const LEVEL = Symbol.for('level')
const TRANSPORT_KEYS = ['tag', 'format', 'level', 'silent', 'handleExceptions', 'handleRejections', 'log', 'logv', 'close']

/** A winston info object: `level`, `message`, the metadata, and winston's Symbol keys. */
export type Info = Record<string | symbol, unknown>

/**
 * The record for one winston info: its enumerable string-keyed fields (winston's Symbol keys
 * left out), the level uncolored, and for an Error logged as is (`errors({ stack: true })`) its
 * message and stack, which are not enumerable.
 * @internal
 */
export function toRecord(info: Info): Record<string, unknown> {
  const record: Record<string, unknown> = {}
  for (const key of Object.keys(info)) record[key] = info[key]
  const level = info[LEVEL]
  if (typeof level === 'string') record.level = level
  if (info instanceof Error) {
    record.message ??= info.message
    if (info.stack !== undefined) record.stack ??= info.stack
  }
  return record
}

/**
 * A winston transport: `log(info, cb)` calls back once the record is in the buffer (an outage never
 * stalls the other transports); problems are the transport's `'warn'`; `logger.end()` closes the client.
 */
export class FluentTransport extends TransportStream {
  /** The client (for `'error'` listeners, `stats()`, `flush()`). */
  readonly client: FluentClient
  readonly #tag: string
  readonly #unheard = warnings('fluent-native/winston')

  /** Opens the client (ERR_FLUENT_CONFIG for a bad option, ERR_FLUENT_INVALID_TAG for a bad `tag`). */
  constructor(options: FluentTransportOptions = {}) {
    const transport: Record<string, unknown> = {}
    const client: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(options)) (TRANSPORT_KEYS.includes(k) ? transport : client)[k] = v
    super(transport as TransportStream.TransportStreamOptions)
    this.#tag = (transport.tag as string | undefined) ?? 'winston'
    checkOptionNames(client, TRANSPORT_KEYS)
    this.client = new FluentClient(client as FluentClientOptions)
    this.client.on('error', (e) => this.#warn(e))
    this.client.on('connect', () => this.#unheard.connected())
    // Fails now (ERR_FLUENT_INVALID_TAG) rather than at the first record.
    this.client.emitMany(this.#tag, [])
  }

  /**
   * The transport's `'warn'`; on stderr too (rate-limited) while nobody hears it. winston's logger
   * listens to every transport's `'warn'` only to re-emit it, so that listener does not count.
   */
  #warn(err: unknown): void {
    const forward = (this as unknown as { __winstonwarn?: unknown }).__winstonwarn
    const own = this.listeners('warn').some((l) => l !== forward)
    const logger = (this as unknown as { parent?: { listenerCount?: (event: string) => number } }).parent
    const heard = own || (forward !== undefined && (logger?.listenerCount?.('warn') ?? 0) > 0)
    this.emit('warn', err)
    if (!heard) this.#unheard.warn(err instanceof Error ? err : new Error(String(err)))
  }

  /** `callback` is optional: winston always passes one, other callers (abstract-winston-transport) may not. */
  override log(info: Info, callback?: () => void): void {
    try {
      this.client.emit(this.#tag, toRecord(info))
    } catch (e) {
      // A record that cannot be encoded is reported, not thrown into winston's pipe.
      this.#warn(e)
    }
    setImmediate(() => this.emit('logged', info))
    callback?.()
  }

  /** Batches winston hands over (`_writev`): one `emitMany`; the format is ours to apply here. */
  override logv(chunks: Array<{ chunk: Info }>, callback: () => void): void {
    const records: Record<string, unknown>[] = []
    for (const { chunk } of chunks) {
      let info: Info | false = chunk
      if (this.format !== undefined) {
        try {
          info = this.format.transform({ ...chunk } as never, this.format.options) as Info | false
        } catch (e) {
          this.#warn(e)
          continue
        }
      }
      if (info) records.push(toRecord(info))
    }
    const result = this.client.emitMany(this.#tag, records)
    for (const { error } of result.errors) this.#warn(error)
    setImmediate(() => {
      for (const { chunk } of chunks) this.emit('logged', chunk)
    })
    callback()
  }

  /**
   * `logger.end()`: winston waits for every transport's `'finish'`. Nothing more can be written
   * to an ended transport, so this closes the client: it drains within close's deadline (5 s by
   * default) and what it could not deliver is reported as ERR_FLUENT_UNDELIVERED through `'warn'`.
   * Never `callback(err)`: that would be an `'error'` winston re-emits on the logger.
   */
  override _final(callback: (error?: Error | null) => void): void {
    this.client.close().then(
      () => callback(),
      (e: unknown) => {
        this.#warn(e)
        callback()
      },
    )
  }

  /** `logger.close()` and `remove()`: drains and stops the client. */
  override close(): void {
    void this.client.close().then(() => this.emit('closed'))
  }
}

export default FluentTransport
