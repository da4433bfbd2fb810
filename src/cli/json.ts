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

/**
 * For people: ISO time with nanoseconds, the tag, then the record indented. A time no Date can
 * hold (beyond year 275760: a sender may send any uint64) is printed as its seconds instead.
 */
export function prettyEvent(ev: ReceivedEvent): string {
  const t = ev.time
  const sec = t instanceof EventTime ? t.epoch : Math.floor(t)
  const nano = String(t instanceof EventTime ? t.nano : 0).padStart(9, '0')
  const date = new Date(sec * 1000)
  const when = Number.isNaN(date.getTime()) ? `${sec}.${nano}s` : date.toISOString().replace(/\.\d{3}Z$/, `.${nano}Z`)
  return `${when} ${ev.tag}\n${JSON.stringify(ev.record, replacer, 2)}`
}

/**
 * The line for an event its printer could not render (a record nested deeper than
 * JSON.stringify goes): said so on the line, so the event is never silently missing.
 */
export function unprintableLine(ev: ReceivedEvent, e: unknown): string {
  const time = ev.time instanceof EventTime ? [ev.time.epoch, ev.time.nano] : ev.time
  return JSON.stringify({ tag: ev.tag, time, unprintable: (e as Error)?.message ?? String(e) })
}
