/**
 * Reads `cat`'s input: JSON lines, text lines (`none`) or a msgpack stream, from files or stdin,
 * and turns each item into a record and an optional time. A bad item is reported with where it
 * was and skipped; the rest still go.
 */
import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { createInterface } from 'node:readline'
import { Decoder } from '@msgpack/msgpack'
import { EventTime } from '../time.js'
import type { Time } from '../time.js'

export type Format = 'json' | 'msgpack' | 'none'

export interface Item {
  record: Record<string, unknown>
  time: Time | undefined
}

export interface InputOptions {
  format: Format
  messageKey: string
  timeKey: string | undefined
}

/** What went wrong with one input item, and where (`file:line` or `file: item n`). */
export interface Bad {
  where: string
  reason: string
}

function open(path: string): Readable {
  return path === '-' ? process.stdin : createReadStream(path)
}

/** Seconds since the epoch or a date string (RFC 3339 / ISO 8601); undefined if neither. */
export function parseTime(v: unknown): Time | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 2 ** 32) return EventTime.fromTimestamp(v)
  if (typeof v === 'string') {
    const ms = Date.parse(v)
    if (!Number.isNaN(ms) && ms >= 0) return EventTime.fromDate(new Date(ms))
  }
  return undefined
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)

/** A map, or Fluent Bit's `[time, map]`; with a time key, the time is taken out of the record. */
function toItem(v: unknown, o: InputOptions): Item | string {
  let time: Time | undefined
  let record: unknown = v
  if (Array.isArray(v)) {
    if (v.length !== 2 || !isMap(v[1])) return 'an array must be [time, record]'
    time = parseTime(typeof v[0] === 'bigint' ? Number(v[0]) : v[0])
    if (time === undefined) return `bad time ${JSON.stringify(String(v[0]))}`
    record = v[1]
  }
  if (!isMap(record)) return `not an object (${record === null ? 'null' : typeof record})`
  if (o.timeKey !== undefined && o.timeKey in record) {
    const t = parseTime(record[o.timeKey])
    if (t === undefined) return `${o.timeKey}: not seconds or a date string`
    time = t
    const { [o.timeKey]: _dropped, ...rest } = record
    record = rest
  }
  return { record: record as Record<string, unknown>, time }
}

/** Every item of every input, in order; bad ones go to `onBad`. */
export async function* items(paths: string[], o: InputOptions, onBad: (b: Bad) => void): AsyncGenerator<Item> {
  for (const path of paths.length === 0 ? ['-'] : paths) {
    const name = path === '-' ? 'stdin' : path
    const stream = open(path)
    if (o.format === 'msgpack') {
      let n = 0
      try {
        for await (const v of new Decoder({ useBigInt64: true }).decodeStream(stream as AsyncIterable<Uint8Array>)) {
          n++
          const item = toItem(v, o)
          if (typeof item === 'string') onBad({ where: `${name}: item ${n}`, reason: item })
          else yield item
        }
      } catch (e) {
        // A msgpack stream cannot be resynchronised after a bad byte: the rest of this input is lost.
        onBad({ where: `${name}: after item ${n}`, reason: `${(e as Error).message} (rest of this input skipped)` })
      }
      continue
    }
    const lines = createInterface({ input: stream, crlfDelay: Infinity })
    let line = 0
    try {
      for await (const text of lines) {
        line++
        if (text.trim() === '') continue
        if (o.format === 'none') {
          yield { record: { [o.messageKey]: text }, time: undefined }
          continue
        }
        let v: unknown
        try {
          v = JSON.parse(text)
        } catch (e) {
          onBad({ where: `${name}:${line}`, reason: (e as Error).message })
          continue
        }
        const item = toItem(v, o)
        if (typeof item === 'string') onBad({ where: `${name}:${line}`, reason: item })
        else yield item
      }
    } catch (e) {
      onBad({ where: name, reason: (e as Error).message })
    }
  }
}
