/**
 * Decodes the batches the native receiver hands over (msgpack `[tag, time, record]` arrays, see
 * crates/fluent-sink/src/relay.rs) with @msgpack/msgpack: per-instance extension codecs, so
 * EventTime (ext 0) inside records becomes an EventTime and other ext types stay ExtData, without
 * touching any process-wide msgpack settings a user's code may rely on.
 */
import { Decoder, ExtensionCodec } from '@msgpack/msgpack'
import { EventTime } from './time.js'

export interface ReceivedEvent {
  tag: string
  /** Integer seconds, or an EventTime when the sender sent one (fluent-native does by default). */
  time: number | EventTime
  /** Strings, numbers (integers beyond 2^53 as bigint), booleans, null, arrays, objects, Uint8Array for bin. */
  record: Record<string, unknown>
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

function exact(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || v instanceof EventTime) return v
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = exact(v[i])
  } else {
    const o = v as Record<string, unknown>
    for (const k in o) o[k] = exact(o[k])
  }
  return v
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** A sender's nanoseconds may be out of range; such a time is kept as fractional seconds, not thrown on. */
function eventTime(sec: number, nsec: number): EventTime | number {
  return nsec <= 999_999_999 ? new EventTime(sec, nsec) : sec + nsec / 1e9
}

export function decodeBatch(batch: Uint8Array): ReceivedEvent[] {
  const out: ReceivedEvent[] = []
  // Without a uint64 (0xcf) or int64 (0xd3) marker byte anywhere, there is no bigint to revisit.
  const wide = batch.includes(0xcf) || batch.includes(0xd3)
  for (const item of decoder.decodeMulti(batch)) {
    const [tag, t, record] = item as [string, number | bigint | [number, number], Record<string, unknown>]
    const time = Array.isArray(t) ? eventTime(t[0], t[1]) : Number(t)
    out.push({ tag, time, record: wide ? (exact(record) as Record<string, unknown>) : record })
  }
  return out
}
