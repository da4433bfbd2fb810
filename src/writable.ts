/**
 * `client.toWritable(tag, options)`: a Writable that logs what is written to it. Object mode takes
 * records (each goes through `client.emit`); text mode takes NDJSON (strings or Buffers, chunked
 * anywhere), which the core turns into records without any JSON parsing in JS.
 *
 * A stream never drops for lack of room, whatever the client's overflow policy: while the buffer is
 * full the chunk's callback waits (so `write()` returns false once the stream's own highWaterMark
 * is reached), the client's `'drain'` resumes it, and `end()` finishes ('finish', `pipeline`
 * resolving) only once everything written is delivered (`client.flush()`).
 */
import { Writable } from 'node:stream'
import { NDJSON_HELD, NDJSON_REFUSED, queuedBytes } from '../binding.js'
import type { NativeNdjson } from '../binding.js'
import type { FluentClient } from './client.js'
import { FluentError } from './errors.js'
import { internalsOf } from './internal.js'
import { openNdjson } from './ndjson.js'
import type { LineOptions } from './ndjson.js'
import { handOver } from './stage.js'

/** The line options (text mode), except `tag`: the stream's tag is `toWritable`'s first argument. */
export interface WritableOptions extends Omit<LineOptions, 'tag'> {
  /** Records (objects) instead of NDJSON text. Default `false`. */
  objectMode?: boolean
  /** The stream's own buffer before `write()` returns false (Node's default otherwise). */
  highWaterMark?: number
}

/** A Writable's callback. */
type Done = (error?: Error | null) => void

function closedError(): FluentError {
  return new FluentError('ERR_FLUENT_CLOSED', 'the client was closed while the stream still had records to write')
}

/**
 * The Writable `client.toWritable(tag, options)` returns: NDJSON text (the default) or records
 * (`objectMode`). Never drops: it waits for room; `end()` finishes once everything is delivered.
 */
export class FluentWritable extends Writable {
  readonly #client: FluentClient
  readonly #tag: string
  readonly #lines: NativeNdjson | undefined
  /** Object mode: buffer room known to be free (from the last look, less what was emitted since). */
  #room = 0

  /** @internal Use `client.toWritable()`. */
  constructor(client: FluentClient, tag: string, options: WritableOptions = {}) {
    const { objectMode = false, highWaterMark, ...line } = options as WritableOptions & { tag?: unknown }
    super({ objectMode, decodeStrings: false, ...(highWaterMark === undefined ? {} : { highWaterMark }) })
    if (typeof tag !== 'string' || tag === '') {
      throw new FluentError('ERR_FLUENT_INVALID_TAG', 'toWritable needs a tag (a non-empty string)')
    }
    this.#client = client
    this.#tag = tag
    if (line.tag !== undefined) throw new FluentError('ERR_FLUENT_CONFIG', "toWritable(tag, options): the tag is the first argument, not an option")
    if (objectMode) {
      if (Object.keys(line).length > 0) {
        throw new FluentError('ERR_FLUENT_CONFIG', `${Object.keys(line).join(', ')}: line options apply to text mode only`)
      }
    } else {
      this.#lines = openNdjson(client, { ...line, tag }, { tag, levelNames: false, waitForRoom: true })
    }
  }

  /** @internal Node's Writable hook. */
  override _write(chunk: unknown, _encoding: BufferEncoding, done: Done): void {
    if (this.#lines === undefined) return this.#record(chunk, done)
    // Records staged by emit() earlier were written first, so they go first.
    handOver()
    const lines = this.#lines
    const answer = typeof chunk === 'string' ? lines.writeText(chunk) : lines.writeBytes(chunk as Uint8Array)
    this.#settle(answer, () => lines.resume(), done)
  }

  /** @internal Node's Writable hook: flushes the client. */
  override _final(done: Done): void {
    const finish = (): void => {
      this.#client.flush().then(
        () => done(),
        (e: unknown) => done(e as Error),
      )
    }
    const lines = this.#lines
    if (lines === undefined) return finish()
    this.#settle(lines.end(), () => lines.end(), finish)
  }

  /** Calls `done` once the chunk's lines are all in the buffer, waiting for `'drain'` as needed. */
  #settle(answer: number, retry: () => number, done: Done): void {
    if (answer & NDJSON_REFUSED) return done(closedError())
    if ((answer & NDJSON_HELD) === 0) return done()
    this.#whenRoom(() => this.#settle(retry(), retry, done))
  }

  #whenRoom(then: () => void): void {
    this.#client.once('drain', then)
    internalsOf(this.#client).watchDrain(true)
  }

  /** Object mode: one record, once there is surely room for it (so it cannot be dropped). */
  #record(record: unknown, done: Done): void {
    const { id, limits } = internalsOf(this.#client)
    const { maxBufferBytes, maxRecordBytes, overhead } = limits
    // The record's size is known only once encoded: room for the largest record is what is sure.
    const need = Math.min(maxRecordBytes + overhead, maxBufferBytes)
    if (this.#room < need) {
      handOver()
      const queued = queuedBytes(id)
      if (queued < 0) return done(closedError())
      this.#room = maxBufferBytes - queued
      if (this.#room < need) return this.#whenRoom(() => this.#record(record, done))
    }
    this.#room -= need
    let accepted: boolean
    try {
      accepted = this.#client.emit(this.#tag, record as object)
    } catch (e) {
      return done(e as Error)
    }
    done(accepted ? undefined : closedError())
  }
}
