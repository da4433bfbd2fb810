/**
 * A small msgpack decoder for the events @msgpack/msgpack refuses: a `__proto__` key (it throws
 * on one, and our own client sends one for a record built by JSON.parse), integer or nil keys,
 * 64-bit integer keys, a timestamp extension of the wrong length. Used only for an event the fast
 * decoder threw on, so the common path keeps its speed.
 *
 * Every key becomes a plain own property (`__proto__` included, via defineProperty: assigning it
 * would set the object's prototype instead). Nesting deeper than MAX_DEPTH is refused rather than
 * recursed into.
 */
import { ExtData, decodeTimestampExtension } from '@msgpack/msgpack'
import { EventTime } from './time.js'

/** Deeper values are refused (the event is reported invalid); far beyond any real record. */
export const MAX_DEPTH = 512

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

class Reader {
  pos: number
  readonly view: DataView
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  take(n: number): number {
    const at = this.pos
    if (n < 0 || at + n > this.end) throw new Error('truncated msgpack value')
    this.pos = at + n
    return at
  }

  u8(): number {
    return this.bytes[this.take(1)]
  }

  str(n: number): string {
    const at = this.take(n)
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + at, n).toString('utf8')
  }

  bin(n: number): Uint8Array {
    const at = this.take(n)
    return this.bytes.slice(at, at + n)
  }
}

function wide(v: bigint): number | bigint {
  return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v
}

function ext(type: number, data: Uint8Array): unknown {
  if (type === 0 && data.length === 8) {
    const view = new DataView(data.buffer, data.byteOffset, 8)
    const sec = view.getUint32(0)
    const nsec = view.getUint32(4)
    return nsec <= 999_999_999 ? new EventTime(sec, nsec) : sec + nsec / 1e9
  }
  if (type === -1) {
    try {
      return decodeTimestampExtension(data)
    } catch {
      // A malformed timestamp is kept as the bytes it was, not a reason to lose the event.
    }
  }
  return new ExtData(type, data)
}

function key(r: Reader, depth: number): string {
  const k = value(r, depth)
  if (typeof k === 'string') return k
  if (typeof k === 'number' || typeof k === 'bigint') return String(k)
  throw new Error(`map key of type ${k === null ? 'nil' : typeof k} cannot be a property name`)
}

function map(r: Reader, n: number, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  for (let i = 0; i < n; i++) {
    const k = key(r, depth)
    const v = value(r, depth)
    if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true })
    else o[k] = v
  }
  return o
}

function array(r: Reader, n: number, depth: number): unknown[] {
  // Every element takes at least one byte: a lying count stops at the end instead of allocating.
  if (n > r.end - r.pos) throw new Error('truncated msgpack array')
  const a = new Array<unknown>(n)
  for (let i = 0; i < n; i++) a[i] = value(r, depth)
  return a
}

function value(r: Reader, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH}`)
  const b = r.u8()
  const v = r.view
  if (b <= 0x7f) return b
  if (b >= 0xe0) return b - 0x100
  if (b >= 0xa0 && b <= 0xbf) return r.str(b & 0x1f)
  if (b >= 0x90 && b <= 0x9f) return array(r, b & 0x0f, depth + 1)
  if (b >= 0x80 && b <= 0x8f) return map(r, b & 0x0f, depth + 1)
  switch (b) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4:
      return r.bin(r.u8())
    case 0xc5:
      return r.bin(v.getUint16(r.take(2)))
    case 0xc6:
      return r.bin(v.getUint32(r.take(4)))
    case 0xc7: {
      const n = r.u8()
      return ext(v.getInt8(r.take(1)), r.bin(n))
    }
    case 0xc8: {
      const n = v.getUint16(r.take(2))
      return ext(v.getInt8(r.take(1)), r.bin(n))
    }
    case 0xc9: {
      const n = v.getUint32(r.take(4))
      return ext(v.getInt8(r.take(1)), r.bin(n))
    }
    case 0xca:
      return v.getFloat32(r.take(4))
    case 0xcb:
      return v.getFloat64(r.take(8))
    case 0xcc:
      return r.u8()
    case 0xcd:
      return v.getUint16(r.take(2))
    case 0xce:
      return v.getUint32(r.take(4))
    case 0xcf:
      return wide(v.getBigUint64(r.take(8)))
    case 0xd0:
      return v.getInt8(r.take(1))
    case 0xd1:
      return v.getInt16(r.take(2))
    case 0xd2:
      return v.getInt32(r.take(4))
    case 0xd3:
      return wide(v.getBigInt64(r.take(8)))
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: {
      const n = 1 << (b - 0xd4)
      return ext(v.getInt8(r.take(1)), r.bin(n))
    }
    case 0xd9:
      return r.str(r.u8())
    case 0xda:
      return r.str(v.getUint16(r.take(2)))
    case 0xdb:
      return r.str(v.getUint32(r.take(4)))
    case 0xdc:
      return array(r, v.getUint16(r.take(2)), depth + 1)
    case 0xdd:
      return array(r, v.getUint32(r.take(4)), depth + 1)
    case 0xde:
      return map(r, v.getUint16(r.take(2)), depth + 1)
    case 0xdf:
      return map(r, v.getUint32(r.take(4)), depth + 1)
    default:
      throw new Error(`byte 0x${b.toString(16)} is not msgpack`)
  }
}

/** Decodes the one msgpack value that spans `bytes[start..end)` exactly; throws otherwise. */
export function decodeSafe(bytes: Uint8Array, start: number, end: number): unknown {
  const r = new Reader(bytes, start, end)
  const out = value(r, 0)
  if (r.pos !== end) throw new Error('bytes after the msgpack value')
  return out
}
