/**
 * Decodes the batches the native receiver hands over (msgpack `[tag, time, record]` arrays, then
 * each event's offset and the event count, see crates/fluent-sink/src/relay.rs).
 *
 * The fast path is @msgpack/msgpack over the whole batch, with per-instance extension codecs, so
 * EventTime (ext 0) inside records becomes an EventTime and other ext types stay ExtData, without
 * touching any process-wide msgpack settings a user's code may rely on. An event it throws on
 * does not take its neighbours with it: from there on, events are decoded one by one (the
 * offsets say where each starts), an event the fast decoder refuses is tried with
 * `decodeSafe` (receiver-safe-decode.ts: `__proto__` and integer keys), and one neither can
 * decode is reported in `invalid`.
 */
import { Decoder, ExtensionCodec } from '@msgpack/msgpack'
import { EventTime } from './time.js'
import { decodeSafe } from './receiver-safe-decode.js'

/** One event as the receiver decoded it. */
export interface ReceivedEvent {
  /** The event's tag. */
  tag: string
  /** Integer seconds, or an EventTime when the sender sent one (fluent-native does by default). */
  time: number | EventTime
  /** Strings, numbers (integers beyond 2^53 as bigint), booleans, null, arrays, objects, Uint8Array for bin. */
  record: Record<string, unknown>
}

/** An event of a batch that could not be decoded: its tag when that much was readable. */
export interface UndecodableEvent {
  /** Its tag, if readable. */
  tag: string | undefined
  /** Why it could not be decoded. */
  reason: string
}

/** One batch from the native receiver, decoded. */
export interface DecodedBatch {
  /** The events that decoded. */
  events: ReceivedEvent[]
  /** The events that did not. */
  invalid: UndecodableEvent[]
}

const codec = new ExtensionCodec()
codec.register({
  type: 0,
  encode: () => null,
  decode: (data: Uint8Array) => {
    if (data.length !== 8) return data
    const view = new DataView(data.buffer, data.byteOffset, 8)
    return eventTime(view.getUint32(0), view.getUint32(4))
  },
})

// 64-bit integers come out as bigint (never rounded); `exact` turns the ones a double holds
// exactly back into numbers, so a millisecond timestamp stays a number.
const decoder = new Decoder({ extensionCodec: codec, useBigInt64: true })

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Visits every container with an explicit stack: a deeply nested record cannot overflow ours. */
function exact(root: unknown): unknown {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array || v instanceof EventTime) continue
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i]
        if (typeof x === 'bigint') v[i] = x >= -MAX_SAFE && x <= MAX_SAFE ? Number(x) : x
        else if (x !== null && typeof x === 'object') stack.push(x)
      }
    } else {
      const o = v as Record<string, unknown>
      for (const k of Object.keys(o)) {
        const x = o[k]
        if (typeof x === 'bigint') {
          if (x >= -MAX_SAFE && x <= MAX_SAFE) o[k] = Number(x)
        } else if (x !== null && typeof x === 'object') stack.push(x)
      }
    }
  }
  return root
}

/** A sender's nanoseconds may be out of range; such a time is kept as fractional seconds, not thrown on. */
function eventTime(sec: number, nsec: number): EventTime | number {
  return nsec <= 999_999_999 ? new EventTime(sec, nsec) : sec + nsec / 1e9
}

function toEvent(item: unknown, wide: boolean): ReceivedEvent {
  if (!Array.isArray(item) || item.length !== 3) throw new Error('not a [tag, time, record] array')
  const [tag, t, record] = item as [unknown, unknown, unknown]
  if (typeof tag !== 'string') throw new Error('tag is not a string')
  if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new Error('record is not a map')
  let time: number | EventTime
  if (Array.isArray(t)) time = eventTime(Number(t[0]), Number(t[1]))
  else if (typeof t === 'number' || typeof t === 'bigint') time = Number(t)
  else throw new Error('time is not an integer or [seconds, nanoseconds]')
  return { tag, time, record: (wide ? exact(record) : record) as Record<string, unknown> }
}

/** The tag of an undecodable event, read straight from its bytes when it is a fixstr/str8. */
function tagOf(events: Uint8Array, at: number): string | undefined {
  const b = events[at + 1]
  if (b >= 0xa0 && b <= 0xbf) return Buffer.from(events.buffer, events.byteOffset + at + 2, b & 0x1f).toString('utf8')
  if (b === 0xd9) return Buffer.from(events.buffer, events.byteOffset + at + 3, events[at + 2]).toString('utf8')
  return undefined
}

/** One event, fast decoder first, then the safe one. */
function one(events: Uint8Array, start: number, end: number, wide: boolean, out: DecodedBatch): void {
  let item: unknown
  try {
    item = decoder.decode(events.subarray(start, end))
  } catch {
    try {
      item = decodeSafe(events, start, end)
    } catch (e) {
      out.invalid.push({ tag: tagOf(events, start), reason: (e as Error)?.message ?? String(e) })
      return
    }
  }
  try {
    out.events.push(toEvent(item, wide))
  } catch (e) {
    out.invalid.push({ tag: tagOf(events, start), reason: (e as Error)?.message ?? String(e) })
  }
}

/** Decodes one batch: its events, and those that could not be decoded. */
export function decodeBatch(batch: Uint8Array): DecodedBatch {
  const out: DecodedBatch = { events: [], invalid: [] }
  if (batch.length < 4) return out
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength)
  const count = view.getUint32(batch.length - 4, true)
  const trailer = batch.length - 4 - 4 * count
  if (trailer < 0) throw new Error('batch trailer does not fit the batch')
  const events = batch.subarray(0, trailer)
  const offset = (i: number) => (i < count ? view.getUint32(trailer + 4 * i, true) : trailer)
  // Without a uint64 (0xcf) or int64 (0xd3) marker byte anywhere, there is no bigint to revisit.
  const wide = events.includes(0xcf) || events.includes(0xd3)
  let done = 0
  try {
    for (const item of decoder.decodeMulti(events)) {
      out.events.push(toEvent(item, wide))
      done++
    }
    if (done === count) return out
  } catch {
    // Event `done` is the one that failed: from here on, one by one.
  }
  for (let i = done; i < count; i++) one(events, offset(i), offset(i + 1), wide, out)
  return out
}
