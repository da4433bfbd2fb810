/**
 * Ready-made failure handlers: write what could not be delivered to a file or a stream as JSON
 * lines, or hand it to another client. Each returns a handler for the `errorHandler` option.
 */
import { appendFileSync } from 'node:fs'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import type { FailedBatch } from './batch.js'
import type { FluentError } from './errors.js'

/**
 * The failure handler: receives the error and the batch that leaves the pipeline undelivered, one
 * batch per call, one call at a time. Resolve `true` when handled, `false` to keep retriable records.
 */
export type ErrorHandler = (error: FluentError, batch: FailedBatch) => boolean | Promise<boolean>

/** The subset of FluentClient that `fallbackToClient` needs (avoids a circular import). */
export interface EntrySink {
  /** Buffers msgpack entries as they are (times kept); returns how many were accepted. */
  emitEntries(tag: string, bytes: Uint8Array): number
}

/** JSON has no BigInt and no bytes: integers past 2^53 keep their digits as strings, bytes go as base64. */
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  return value
}

/**
 * One line per record: `{"tag","time","record"}`, `time` as fluentd's event time, seconds and
 * nanoseconds (`1700000000.000000123`), written as a JSON number with all nine digits.
 */
export function jsonLines(batch: FailedBatch): string {
  let out = ''
  const tag = JSON.stringify(batch.tag)
  for (const { time, record } of batch.records) {
    const t = `${time.epoch}.${String(time.nano).padStart(9, '0')}`
    out += `{"tag":${tag},"time":${t},"record":${JSON.stringify(record, replacer)}}\n`
  }
  return out
}

/**
 * Appends every record to `path` as JSON lines and returns `true` once the operating system has
 * them. It writes synchronously, on purpose: an asynchronous append still in flight when the
 * process exits would be lost, and at exit (`batch.reason === 'exit'`) no later tick comes at all.
 * A local append of one batch (at most `batchBytes` of records) costs the JS thread well under a
 * millisecond, and only while records are failing.
 */
export function fallbackToFile(path: string): ErrorHandler {
  if (typeof path !== 'string' || path === '') throw new TypeError('fallbackToFile(path): path must be a non-empty string')
  return (_error, batch) => {
    appendFileSync(path, jsonLines(batch))
    return true
  }
}

/**
 * Writes every record to `stream` as JSON lines; resolves `true` once the stream took them,
 * waiting for `'drain'` when `write()` says its buffer is full. A stream that errored or ended
 * resolves `false`.
 */
export function fallbackToStream(stream: Writable): ErrorHandler {
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function') {
    throw new TypeError('fallbackToStream(stream): stream must be a Writable')
  }
  return async (_error, batch) => {
    if (stream.destroyed || stream.writableEnded) return false
    const ok = stream.write(jsonLines(batch))
    if (!ok) {
      const drained = once(stream, 'drain').then(() => true)
      const failed = once(stream, 'close').then(() => false)
      return Promise.race([drained, failed]).catch(() => false)
    }
    return true
  }
}

/**
 * Hands the records to another client as they are (the msgpack entries move without re-encoding,
 * times kept). `true` once that client took them into its buffer: from there it answers for them
 * (its own overflow policy, its own failure handler).
 */
export function fallbackToClient(client: EntrySink): ErrorHandler {
  if (client === null || typeof client !== 'object' || typeof client.emitEntries !== 'function') {
    throw new TypeError('fallbackToClient(client): client must be a FluentClient')
  }
  return (_error, batch) => {
    client.emitEntries(batch.tag, batch.bytes)
    return true
  }
}
