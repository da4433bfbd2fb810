/** JSON text for received events: what JSON cannot hold is spelled out, never lost silently. */
import { EventTime } from '../time.js'
import type { ReceivedEvent } from '../receiver-decode.js'

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/**
 * bin becomes `{"$bin":"<hex>"}` (as fluent-sink --print writes it), an EventTime `[sec, nsec]`,
 * integers beyond 2^53 their decimal digits as a string, non-finite floats "NaN"/"Infinity".
 */
function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof EventTime) return [value.epoch, value.nano]
  if (value instanceof Uint8Array) return { $bin: hex(value) }
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value)
  // Buffer's own toJSON runs before the replacer sees it.
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { $bin: Buffer.from((value as { data: number[] }).data).toString('hex') }
  }
  return value
}

export function eventLine(ev: ReceivedEvent): string {
  return JSON.stringify({ tag: ev.tag, time: ev.time, record: ev.record }, replacer)
}

/** For people: ISO time with nanoseconds, the tag, then the record indented. */
export function prettyEvent(ev: ReceivedEvent): string {
  const t = ev.time
  const sec = t instanceof EventTime ? t.epoch : Math.floor(t)
  const nano = t instanceof EventTime ? t.nano : 0
  const iso = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, `.${String(nano).padStart(9, '0')}Z`)
  return `${iso} ${ev.tag}\n${JSON.stringify(ev.record, replacer, 2)}`
}
