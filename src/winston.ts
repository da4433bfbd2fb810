/**
 * `fluent-native/winston`: a winston 3 transport. `log(info, callback)` calls back as soon as the
 * record is in the native buffer, never after delivery: winston pipes every transport from one
 * stream, so a transport that calls back late (on delivery) stalls all of them, the console too,
 * while fluentd is down (fluent-logger-node#115). Delivery, retries and reconnects are the writer
 * thread's business; the buffer's byte cap and overflow policy bound what an outage costs.
 */
import TransportStream from 'winston-transport'
import { FluentClient } from './client.js'
import type { FluentClientOptions } from './types.js'

export interface FluentTransportOptions extends FluentClientOptions, TransportStream.TransportStreamOptions {
  /** Tag of every record. Default `'winston'`. */
  tag?: string
}

const LEVEL = Symbol.for('level')
const TRANSPORT_KEYS = ['tag', 'format', 'level', 'silent', 'handleExceptions', 'handleRejections', 'log', 'logv', 'close']

type Info = Record<string | symbol, unknown>

/**
 * The record for one winston info: its enumerable string-keyed fields (winston's Symbol keys
 * left out), the level uncolored, and for an Error logged as is (`errors({ stack: true })`) its
 * message and stack, which are not enumerable.
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

export class FluentTransport extends TransportStream {
  /** The client (for `'error'` listeners, `stats()`, `flush()`). */
  readonly client: FluentClient
  readonly #tag: string

  constructor(options: FluentTransportOptions = {}) {
    const transport: Record<string, unknown> = {}
    const client: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(options)) (TRANSPORT_KEYS.includes(k) ? transport : client)[k] = v
    super(transport as TransportStream.TransportStreamOptions)
    this.#tag = (transport.tag as string | undefined) ?? 'winston'
    this.client = new FluentClient(client as FluentClientOptions)
    // Connection and delivery errors reach winston as the transport's 'warn' (an 'error' would
    // unpipe it from the logger).
    this.client.on('error', (e) => this.emit('warn', e))
    // Fails now (ERR_FLUENT_INVALID_TAG) rather than at the first record.
    this.client.emitMany(this.#tag, [])
  }

  override log(info: Info, callback: () => void): void {
    try {
      this.client.emit(this.#tag, toRecord(info))
    } catch (e) {
      // A record that cannot be encoded is reported, not thrown into winston's pipe.
      this.emit('warn', e)
    }
    setImmediate(() => this.emit('logged', info))
    callback()
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
          this.emit('warn', e)
          continue
        }
      }
      if (info) records.push(toRecord(info))
    }
    const result = this.client.emitMany(this.#tag, records)
    for (const { error } of result.errors) this.emit('warn', error)
    setImmediate(() => {
      for (const { chunk } of chunks) this.emit('logged', chunk)
    })
    callback()
  }

  /** `logger.end()`: winston waits for every transport's `'finish'`, which follows delivery. */
  override _final(callback: (error?: Error | null) => void): void {
    this.client.flush().then(
      () => callback(),
      (e: Error) => callback(e),
    )
  }

  /** `logger.close()` and `remove()`: drains and stops the client. */
  override close(): void {
    void this.client.close().then(() => this.emit('closed'))
  }
}

export default FluentTransport
