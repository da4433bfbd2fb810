/**
 * JS values to msgpack, at any depth: records (`encodeRecord`), objects, Maps, arrays, Errors, numbers,
 * BigInts and binary. Strings are strings.ts's; the buffer and position are `out` (state.ts).
 */
import { fail } from './fail.js'
import * as state from './state.js'
import * as strings from './strings.js'

// Local bindings rather than named imports: in tsc's CommonJS output a named import is read off the
// other module's exports object at every use (measured in ../encoder.ts's opening comment).
const { begin, ensure, out, put16, put32, tooLarge } = state
const { writeLength, writeString } = strings

const MAX_DEPTH = 100
/** Error causes followed, at most (a cause chain can be a cycle). */
const MAX_CAUSES = 8
const hasOwn = Object.prototype.hasOwnProperty

/**
 * Encodes `record` at offset `start`, returning the end offset. The top level follows the same
 * rules as any value, and must come out as a map: a plain object, Map, class instance or Error, or
 * a `toJSON` result that is one.
 * Throws FluentError: ERR_FLUENT_INVALID_RECORD, ERR_FLUENT_ENCODE or ERR_FLUENT_RECORD_TOO_LARGE;
 * and whatever user code throws on the way (the caller wraps that).
 */
export function encodeRecord(record: unknown, start: number, maxBytes: number): number {
  begin(start, maxBytes)
  // Arrays, binary, Dates, Sets and boxed primitives are never records, even those with a toJSON
  // (a Buffer's would make it one); anything else may hand over its JSON form, which must be a record.
  if (!isRecord(record)) notARecord(record)
  let value = record
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = applyToJSON(value as { toJSON: () => unknown })
    if (!isRecord(value)) notARecord(value)
  }
  if (value instanceof Map) writeMap(value, 0)
  else if (value instanceof Error) writeError(value, 0, 0)
  else writeObject(value as Record<string, unknown>, 0)
  const end = out.pos
  if (end - start > maxBytes) tooLarge(end - start)
  return end
}

function notARecord(v: unknown): never {
  fail('ERR_FLUENT_INVALID_RECORD', `record must be a plain object, a Map or an Error, got ${describe(v)}`)
}

function isObject(v: unknown): v is object {
  return typeof v === 'object' && v !== null
}

/** Can this value be a record (a map at the top level)? */
export function isRecord(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  if (Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Date) return false
  if (v instanceof Set || v instanceof Number || v instanceof String || v instanceof Boolean) return false
  return true
}

/** JSON applies `toJSON` once and serializes its result as it is; one returning its own object is a bug. */
function applyToJSON(v: { toJSON: () => unknown }): unknown {
  const result = v.toJSON()
  if (result === v) fail('ERR_FLUENT_ENCODE', 'toJSON() returned its own object')
  return result
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return `an instance of ${(v as object).constructor?.name ?? 'Object'}`
  return `a ${typeof v}`
}

function tooDeep(): never {
  fail('ERR_FLUENT_ENCODE', `record nests deeper than ${MAX_DEPTH} levels (circular?)`)
}

function writeObject(obj: Record<string, unknown>, depth: number): void {
  if (depth > MAX_DEPTH) tooDeep()
  const head = startMap(depth)
  let count = 0
  // for...in also yields inherited enumerable keys, which JSON leaves out. On the for-in key of its
  // own receiver V8 compiles hasOwnProperty to a shape check, cheaper than asking for the prototype
  // first (Object.getPrototypeOf went through the runtime in a profile).
  for (const key in obj) {
    if (!hasOwn.call(obj, key)) continue
    const value = obj[key]
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
    writeString(key)
    writeValue(value, depth + 1)
    count++
  }
  finishMap(head, count, depth)
}

function writeMap(map: Map<unknown, unknown>, depth: number): void {
  if (depth > MAX_DEPTH) tooDeep()
  const head = startMap(depth)
  let count = 0
  for (const [key, value] of map) {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
    writeString(typeof key === 'string' ? key : String(key))
    writeValue(value, depth + 1)
    count++
  }
  finishMap(head, count, depth)
}

/**
 * Whether the last map written at each depth needed a 16-bit count: a map's header is reserved before
 * its entries are counted, and guessing its size from the previous map at the same depth (records
 * of one kind repeat) saves moving the body when the guess is right.
 */
const wideAt = new Uint8Array(MAX_DEPTH + 2)

/** Reserves a map header (1 or 3 bytes, as guessed) and returns where it starts. */
export function startMap(depth: number): number {
  const head = out.pos
  const wide = wideAt[depth]
  ensure(3)
  out.pos = head + (wide === 1 ? 3 : 1)
  return head
}

/** Writes the map header `startMap` reserved, moving the body if the guessed size was wrong. */
export function finishMap(head: number, count: number, depth: number): void {
  const reserved = wideAt[depth] === 1 ? 3 : 1
  const size = count < 16 ? 1 : count < 0x10000 ? 3 : 5
  wideAt[depth] = size === 3 ? 1 : 0
  if (size !== reserved) {
    if (size > reserved) ensure(size - reserved)
    out.buf.copyWithin(head + size, head + reserved, out.pos)
    out.pos += size - reserved
  }
  const buf = out.buf
  if (size === 1) buf[head] = 0x80 | count
  else if (size === 3) {
    buf[head] = 0xde
    put16(count, head + 1)
  } else {
    buf[head] = 0xdf
    put32(count, head + 1)
  }
}

function writeArrayHeader(n: number): void {
  ensure(5)
  const buf = out.buf
  const pos = out.pos
  if (n < 16) {
    buf[pos] = 0x90 | n
    out.pos = pos + 1
  } else if (n < 0x10000) {
    buf[pos] = 0xdc
    put16(n, pos + 1)
    out.pos = pos + 3
  } else {
    buf[pos] = 0xdd
    put32(n, pos + 1)
    out.pos = pos + 5
  }
}

/** Writes any value by the rules of ../encoder.ts; `depth` is its nesting (checked against MAX_DEPTH). */
export function writeValue(v: unknown, depth: number): void {
  // typeof tests rather than a switch on typeof: the optimizing compiler turns each into a type
  // check, where a switch materializes the type's name and compares strings.
  if (typeof v === 'string') return writeString(v)
  if (typeof v === 'number') return writeNumber(v)
  if (typeof v === 'boolean') {
    ensure(1)
    out.buf[out.pos++] = v ? 0xc3 : 0xc2
    return
  }
  if (typeof v === 'object') {
    if (v === null) return writeNil()
    if (Array.isArray(v)) return writeArray(v, depth)
    if (ArrayBuffer.isView(v)) return writeBin(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
    if (v instanceof Date) {
      const t = v.getTime()
      return t === t ? writeString(v.toISOString()) : writeNil()
    }
    if (v instanceof ArrayBuffer) return writeBin(new Uint8Array(v))
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      if (depth > MAX_DEPTH) tooDeep()
      return writeJSONValue(applyToJSON(v as { toJSON: () => unknown }), depth + 1)
    }
    return writeObjectLike(v, depth)
  }
  if (typeof v === 'bigint') return writeBigInt(v)
  // undefined, function, symbol (inside arrays): nil, as JSON gives null
  writeNil()
}

/** An object that is not an array, binary, Date or `toJSON` holder. */
function writeObjectLike(v: object, depth: number): void {
  if (v instanceof Map) return writeMap(v, depth)
  if (v instanceof Set) return writeArray(Array.from(v), depth)
  if (v instanceof Error) return writeError(v, depth, 0)
  if (v instanceof Number || v instanceof String || v instanceof Boolean) return writeValue(v.valueOf(), depth)
  writeObject(v as Record<string, unknown>, depth)
}

/** A `toJSON` result: serialized as it is, without applying its own `toJSON` again (as JSON does). */
function writeJSONValue(v: unknown, depth: number): void {
  if (isObject(v) && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Date) && !(v instanceof ArrayBuffer)) {
    return writeObjectLike(v, depth)
  }
  writeValue(v, depth)
}

function writeNil(): void {
  ensure(1)
  out.buf[out.pos++] = 0xc0
}

function writeArray(arr: unknown[], depth: number): void {
  if (depth > MAX_DEPTH) tooDeep()
  // The length is read once, as JSON reads it: a getter in an element may grow or shrink the array
  // (or a Proxy report any length), and the header must match what is written.
  const n = arr.length
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) fail('ERR_FLUENT_ENCODE', `array length is not a valid length: ${String(n)}`)
  writeArrayHeader(n)
  for (let i = 0; i < n; i++) writeValue(arr[i], depth + 1)
}

/** A marker for `writeObject`: this field is an Error cause, to be followed only so far. */
class Cause {
  constructor(
    readonly error: Error,
    readonly hops: number,
  ) {}
}

/**
 * Errors keep what one wants to read (name, message and stack are not enumerable), then their own
 * enumerable fields (which win over the first three, so no key appears twice), then `cause`: an
 * Error cause is followed up to MAX_CAUSES deep, which also ends a cycle.
 */
function writeError(e: Error, depth: number, hops: number): void {
  if (depth > MAX_DEPTH) tooDeep()
  // No prototype: an own `__proto__` key (JSON.parse makes those) is then a key like any other.
  const fields = Object.create(null) as Record<string, unknown>
  fields.name = e.name
  fields.message = e.message
  fields.stack = e.stack
  for (const key in e) if (hasOwn.call(e, key)) fields[key] = (e as unknown as Record<string, unknown>)[key]
  if (e instanceof AggregateError && !hasOwn.call(fields, 'errors')) fields.errors = e.errors
  // `cause` is written last, whether it is an own enumerable field (assigned) or not (the option).
  delete fields.cause
  const cause = e.cause
  if (cause instanceof Error) {
    if (hops < MAX_CAUSES) fields.cause = new Cause(cause, hops + 1)
  } else if (cause !== undefined) {
    fields.cause = cause
  }
  const head = startMap(depth)
  let count = 0
  for (const key in fields) {
    const value = fields[key]
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
    writeString(key)
    if (value instanceof Cause) writeError(value.error, depth + 1, value.hops)
    else writeValue(value, depth + 1)
    count++
  }
  finishMap(head, count, depth)
}

function writeBin(bytes: Uint8Array): void {
  const n = bytes.length
  ensure(n + 5)
  writeLength(n, 0xc4)
  out.buf.set(bytes, out.pos)
  out.pos += n
}

function writeNumber(v: number): void {
  ensure(9)
  // DataView stores are big-endian and compile to one store each, where byte stores bounds-check
  // every byte (a profile of the logger's medium record had writeNumber at 8 % of the thread).
  const d = out.dv
  const buf = out.buf
  const p = out.pos
  if (Number.isSafeInteger(v)) {
    if (v >= 0) {
      if (v < 0x80) {
        buf[p] = v
        out.pos = p + 1
      } else if (v < 0x100) {
        d.setUint16(p, 0xcc00 | v)
        out.pos = p + 2
      } else if (v < 0x10000) {
        buf[p] = 0xcd
        d.setUint16(p + 1, v)
        out.pos = p + 3
      } else if (v < 0x100000000) {
        buf[p] = 0xce
        d.setUint32(p + 1, v)
        out.pos = p + 5
      } else {
        buf[p] = 0xcf
        d.setUint32(p + 1, Math.floor(v / 0x100000000))
        d.setUint32(p + 5, v >>> 0)
        out.pos = p + 9
      }
      return
    }
    if (v >= -32) {
      buf[p] = v & 0xff
      out.pos = p + 1
    } else if (v >= -0x80) {
      d.setUint16(p, 0xd000 | (v & 0xff))
      out.pos = p + 2
    } else if (v >= -0x8000) {
      buf[p] = 0xd1
      d.setInt16(p + 1, v)
      out.pos = p + 3
    } else if (v >= -0x80000000) {
      buf[p] = 0xd2
      d.setInt32(p + 1, v)
      out.pos = p + 5
    } else {
      const hi = Math.floor(v / 0x100000000)
      buf[p] = 0xd3
      d.setInt32(p + 1, hi)
      d.setUint32(p + 5, v - hi * 0x100000000)
      out.pos = p + 9
    }
    return
  }
  // Fractions, NaN, +-Infinity and integers beyond 2^53 (already inexact): float64. (-0 is a safe
  // integer, so it was written as 0 above, as JSON writes it.)
  buf[p] = 0xcb
  d.setFloat64(p + 1, v)
  out.pos = p + 9
}

const U64_MAX = (1n << 64n) - 1n
const I64_MIN = -(1n << 63n)

function writeBigInt(v: bigint): void {
  if (v >= -0x1fffffffffffffn && v <= 0x1fffffffffffffn) return writeNumber(Number(v))
  if (v > U64_MAX || v < I64_MIN) {
    fail('ERR_FLUENT_ENCODE', `BigInt ${v} is outside the 64-bit range msgpack can carry`)
  }
  ensure(9)
  const buf = out.buf
  const pos = out.pos
  if (v > 0n) {
    buf[pos] = 0xcf
    buf.writeBigUInt64BE(v, pos + 1)
  } else {
    buf[pos] = 0xd3
    buf.writeBigInt64BE(v, pos + 1)
  }
  out.pos = pos + 9
}
