/**
 * The record encoder: JS values to one msgpack map, written into a scratch buffer that is reused
 * for every record and handed to the native side by reference (it copies the bytes once).
 * Measured against JSON.stringify and msgpackr in bench/crossing.ts; see the README.
 *
 * One set of rules at every depth, JSON's where JSON has an answer: own enumerable string keys;
 * undefined, functions and symbols left out of objects and nil in arrays; `toJSON` applied once;
 * Dates as ISO strings; boxed primitives as their value. msgpack where it does better: integers stay
 * integers, Buffers and typed arrays become bin, BigInts in the 64-bit range become int64/uint64,
 * NaN and Infinity stay floats, and Errors become `{ name, message, stack, ...own fields, cause }`.
 *
 * Speed: strings that recur at the same place from one record to the next (keys, and values such as a
 * service name) are copied from their encoded bytes rather than encoded again ("Recurring strings").
 *
 * Re-entrancy: the encoder state is module-level (fast), and user code runs in the middle of a record
 * (getters, `toJSON`, Proxy traps). A record encoded from inside another one (a getter that logs) is
 * written into a side buffer: `enterSide` saves the outer record's state and `leaveSide` restores it,
 * so nesting is strictly last-in first-out and the outer bytes are never touched.
 */
import { FluentError } from './errors.js'
import type { FluentErrorCode } from './errors.js'

const MAX_DEPTH = 100
/** Error causes followed, at most (a cause chain can be a cycle). */
const MAX_CAUSES = 8
const INITIAL_SIZE = 64 * 1024
const SIDE_SIZE = 4 * 1024

/** Node's Buffer has an unchecked UTF-8 writer that skips `write`'s argument parsing. */
type FastBuffer = Buffer & { utf8Write(s: string, offset: number, length: number): number; latin1Slice(start: number, end: number): string }

// allocUnsafeSlow: an ArrayBuffer of its own at offset 0, so the stage's typed-array views are aligned.
let buf = Buffer.allocUnsafeSlow(INITIAL_SIZE) as FastBuffer
/** A view of `buf` for word-sized stores (four ASCII characters in one store). */
let dv = new DataView(buf.buffer, buf.byteOffset, buf.length)
let pos = 0
let recordStart = 0
let limit = 4 * 1024 * 1024
/** The number of strings written so far in the current record: its cursor in the string slots. */
let slot = 0
const hasOwn = Object.prototype.hasOwnProperty

interface Saved {
  buf: FastBuffer
  dv: DataView
  pos: number
  recordStart: number
  limit: number
  slot: number
}
/** Outer records' states while a nested one is encoded; `sides[i]` is the buffer of depth i + 1. */
const saved: Saved[] = []
const sides: Array<FastBuffer | undefined> = []
const sideViews: Array<DataView | undefined> = []

/** The buffer the last `encodeRecord` wrote into (it may have been replaced by a larger one). */
export function scratch(): Buffer {
  return buf
}

/**
 * Makes `b` (with `view`, a DataView of it) the buffer outermost records are encoded into: each
 * client stages into a buffer of its own (stage.ts). Only between records (nothing nested).
 */
export function usePrimary(b: Buffer, view: DataView): void {
  if (saved.length !== 0) fail('ERR_FLUENT_INTERNAL', 'stage buffer switched inside a record')
  buf = b as FastBuffer
  dv = view
}

/** The DataView of the primary buffer (kept by the stage with the buffer it belongs to). */
export function primaryView(): DataView {
  return saved.length > 0 ? saved[0].dv : dv
}

/** The stage's buffer: the outermost record's, even while a nested record is being encoded. */
export function primary(): Buffer {
  return saved.length > 0 ? saved[0].buf : buf
}

/** Records logged from inside records, at most this deep (a getter that logs its own object recurses). */
export const MAX_NESTED = 16
/** Side buffers larger than this are not kept for the next nested record. */
const KEEP_SIDE = 64 * 1024

/**
 * Switches to a side buffer for a record encoded from inside another one. Nothing here can throw
 * after the state is saved (the buffer is found first), so a failure leaves the encoder as it was.
 */
export function enterSide(): void {
  const depth = saved.length
  if (depth >= MAX_NESTED) {
    fail('ERR_FLUENT_ENCODE', `records logged from inside records nest deeper than ${MAX_NESTED} (a getter that logs its own object?)`)
  }
  let side = sides[depth]
  let view = sideViews[depth]
  if (side === undefined || view === undefined) {
    side = Buffer.allocUnsafeSlow(SIDE_SIZE) as FastBuffer
    view = new DataView(side.buffer, side.byteOffset, side.length)
  }
  sides[depth] = side
  sideViews[depth] = view
  saved.push({ buf, dv, pos, recordStart, limit, slot })
  buf = side
  dv = view
}

/** Back to the outer record, exactly where it was. Allocates nothing, so it cannot fail. */
export function leaveSide(): void {
  const side = buf
  const view = dv
  const s = saved.pop() as Saved
  buf = s.buf
  dv = s.dv
  pos = s.pos
  recordStart = s.recordStart
  limit = s.limit
  slot = s.slot
  // A side buffer that grew is kept for the next nested record at this depth, unless it is large.
  const keep = side.length <= KEEP_SIDE
  sides[saved.length] = keep ? side : undefined
  sideViews[saved.length] = keep ? view : undefined
}

/**
 * Called before an outermost record: no nested state can be saved then. If some is (a bug), the
 * stage's own buffer is restored rather than writing into a side buffer from here on.
 */
export function resetSides(): void {
  if (saved.length === 0) return
  const s = saved[0]
  saved.length = 0
  buf = s.buf
  dv = s.dv
}

/** The last error this encoder raised, to tell it apart from what user code (a getter) threw. */
let own: unknown

/**
 * Was `e` raised by the encoder for the record being encoded (rather than by a getter, `toJSON` or
 * trap)? Answered once: the same error seen again has come back out of user code (a getter whose
 * own logging failed), and then it is that getter's error.
 */
export function takeOwnError(e: unknown): boolean {
  if (e !== own) return false
  own = undefined
  return true
}

function fail(code: FluentErrorCode, message: string): never {
  own = new FluentError(code, message)
  throw own
}

/**
 * Encodes `record` at offset `start`, returning the end offset. The top level follows the same
 * rules as any value, and must come out as a map: a plain object, Map, class instance or Error, or
 * a `toJSON` result that is one.
 * Throws FluentError: ERR_FLUENT_INVALID_RECORD, ERR_FLUENT_ENCODE or ERR_FLUENT_RECORD_TOO_LARGE;
 * and whatever user code throws on the way (the caller wraps that).
 */
export function encodeRecord(record: unknown, start: number, maxBytes: number): number {
  pos = start
  recordStart = start
  limit = maxBytes
  slot = 0
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
  if (pos - start > maxBytes) tooLarge(pos - start)
  return pos
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
  const out = v.toJSON()
  if (out === v) fail('ERR_FLUENT_ENCODE', 'toJSON() returned its own object')
  return out
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return `an instance of ${(v as object).constructor?.name ?? 'Object'}`
  return `a ${typeof v}`
}

function tooLarge(size: number): never {
  fail('ERR_FLUENT_RECORD_TOO_LARGE', `record exceeds maxRecordBytes (${limit}): ${size}+ bytes`)
}

function tooDeep(): never {
  fail('ERR_FLUENT_ENCODE', `record nests deeper than ${MAX_DEPTH} levels (circular?)`)
}

/**
 * Makes room for `n` more bytes. Only the test is here, so that V8 inlines it into every writer (a
 * profile had `ensure` as a call at 7 % of the encoder's time); growing is out of line.
 */
function ensure(n: number): void {
  if (pos + n > buf.length) grow(n)
}

/** Grows the scratch buffer to hold `n` more bytes (never past the record limit + slack). */
function grow(n: number): void {
  const need = pos + n
  // Slack over the limit so the final size check reports the real size; the stage sits before recordStart.
  if (need - recordStart > limit + 1024 * 1024) tooLarge(need - recordStart)
  // A multiple of 8, so the stage's typed-array views cover the whole buffer.
  const next = Buffer.allocUnsafeSlow((Math.max(need, buf.length * 2) + 7) & ~7) as FastBuffer
  buf.copy(next, 0, 0, pos)
  buf = next
  dv = new DataView(next.buffer, next.byteOffset, next.length)
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
function startMap(depth: number): number {
  const head = pos
  const wide = wideAt[depth]
  ensure(3)
  pos += wide === 1 ? 3 : 1
  return head
}

/** Writes the map header `startMap` reserved, moving the body if the guessed size was wrong. */
function finishMap(head: number, count: number, depth: number): void {
  const reserved = wideAt[depth] === 1 ? 3 : 1
  const size = count < 16 ? 1 : count < 0x10000 ? 3 : 5
  wideAt[depth] = size === 3 ? 1 : 0
  if (size !== reserved) {
    if (size > reserved) ensure(size - reserved)
    buf.copyWithin(head + size, head + reserved, pos)
    pos += size - reserved
  }
  if (size === 1) buf[head] = 0x80 | count
  else if (size === 3) {
    buf[head] = 0xde
    put16(count, head + 1)
  } else {
    buf[head] = 0xdf
    put32(count, head + 1)
  }
}

// Big-endian stores by hand: Buffer's writeUInt*BE validate their arguments on every call, which
// showed in profiles of the emit loop. Callers have checked ranges already; `>>>`/`&` wrap negatives
// to two's complement, so the same helpers serve signed values.
function put16(v: number, at: number): void {
  buf[at] = (v >>> 8) & 0xff
  buf[at + 1] = v & 0xff
}

function put32(v: number, at: number): void {
  buf[at] = (v >>> 24) & 0xff
  buf[at + 1] = (v >>> 16) & 0xff
  buf[at + 2] = (v >>> 8) & 0xff
  buf[at + 3] = v & 0xff
}

function writeArrayHeader(n: number): void {
  ensure(5)
  if (n < 16) buf[pos++] = 0x90 | n
  else if (n < 0x10000) {
    buf[pos] = 0xdc
    put16(n, pos + 1)
    pos += 3
  } else {
    buf[pos] = 0xdd
    put32(n, pos + 1)
    pos += 5
  }
}

function writeValue(v: unknown, depth: number): void {
  // typeof tests rather than a switch on typeof: the optimizing compiler turns each into a type
  // check, where a switch materializes the type's name and compares strings.
  if (typeof v === 'string') return writeString(v)
  if (typeof v === 'number') return writeNumber(v)
  if (typeof v === 'boolean') {
    ensure(1)
    buf[pos++] = v ? 0xc3 : 0xc2
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
  buf[pos++] = 0xc0
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

// ---------------------------------------------------------------------------------------------------
// Recurring strings. Records of one kind repeat their keys, and many of their values (service, host,
// method, level), in the same order. The k-th string written in a record is remembered with its
// encoded bytes, as words, in slot k; when the k-th string of a later record is the same string (===:
// a pointer comparison for the internalized keys and literals that recur, otherwise a comparison of
// the characters), its bytes are copied instead of encoded. The bytes are exact either way: a
// different string only costs the comparison. The slot cursor starts again with every record; a
// record that logs from inside a record disturbs only the hits, never the bytes.
//
// Memory: a slot holds at most a 62-character string. A string of 13 characters or more may be a
// slice that keeps a much larger string alive (V8 makes shorter substrings copies), so those are
// remembered as a copy of their own, made from the bytes just written, and only when the same slot
// saw a string of the same length and fingerprint last time: a value that changes with every record
// (a request id) costs no copy.

const SLOTS = 1024
/** Encoded strings of at most this many bytes (header included) are remembered. */
const SLOT_BYTES = 64
const SLOT_WORDS = SLOT_BYTES >>> 2
/** Shorter strings are never slices of other strings (V8's SlicedString::kMinLength), so they are kept as they are. */
const SLICE_MIN = 13
const slotString: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined)
const slotLength = new Uint8Array(SLOTS)
const slotWords = new Int32Array(SLOTS * SLOT_WORDS)
/** For strings of SLICE_MIN characters or more: the fingerprint of the last one seen in each slot. */
const slotSeen = new Int32Array(SLOTS)

/** Copies slot k's bytes (its string is the one to write). Room for whole words is ensured. */
function writeSlot(k: number): void {
  const n = slotLength[k]
  ensure(SLOT_BYTES)
  const v = dv
  const p = pos
  const w = k * SLOT_WORDS
  for (let i = 0; i < n; i += 4) v.setInt32(p + i, slotWords[w + (i >>> 2)])
  pos = p + n
}

/** Remembers `s` (or an equal string) in slot k, with the `pos - head` bytes just written for it. */
function remember(k: number, s: string, head: number): void {
  const n = pos - head
  if (n > SLOT_BYTES) return
  ensure(4)
  const v = dv
  const w = k * SLOT_WORDS
  for (let i = 0; i < n; i += 4) slotWords[w + (i >>> 2)] = v.getInt32(head + i)
  slotLength[k] = n
  slotString[k] = s
}

function writeString(s: string): void {
  const k = slot++
  if (k < SLOTS && slotString[k] === s) return writeSlot(k)
  const head = pos
  writeStringBytes(s)
  if (k >= SLOTS) return
  const n = s.length
  if (n < SLICE_MIN) return remember(k, s, head)
  // An ASCII fixstr or str8 (one byte per character) that fits a slot: remembered as its own copy,
  // if this slot's last long string looked the same.
  const body = n < 32 ? head + 1 : head + 2
  if (pos - body !== n || pos - head > SLOT_BYTES) return
  const seen = n | (s.charCodeAt(0) << 8) | (s.charCodeAt(n >>> 1) << 16) | (s.charCodeAt(n - 1) << 24)
  if (slotSeen[k] !== seen) {
    slotSeen[k] = seen
    return
  }
  remember(k, buf.latin1Slice(body, pos), head)
}

function writeStringBytes(s: string): void {
  const n = s.length
  if (n < 256) {
    // Fast path for ASCII up to 255 characters (keys, most values): no native call, and four
    // characters per store. Room for 3 bytes past the end lets the last store be a whole word.
    ensure(n + 5)
    const b = buf
    const v = dv
    const head = pos
    let p = n < 32 ? head + 1 : head + 2
    let i = 0
    let ascii = true
    for (; i + 4 <= n; i += 4) {
      const c0 = s.charCodeAt(i)
      const c1 = s.charCodeAt(i + 1)
      const c2 = s.charCodeAt(i + 2)
      const c3 = s.charCodeAt(i + 3)
      if ((c0 | c1 | c2 | c3) >= 0x80) {
        ascii = false
        break
      }
      v.setUint32(p, (c0 << 24) | (c1 << 16) | (c2 << 8) | c3)
      p += 4
    }
    if (ascii) {
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) {
          ascii = false
          break
        }
        b[p++] = c
      }
    }
    if (ascii) {
      if (n < 32) b[head] = 0xa0 | n
      else {
        b[head] = 0xd9
        b[head + 1] = n
      }
      pos = p
      return
    }
  }
  // Lone surrogates count and encode as U+FFFD (3 bytes), consistently in both calls; a mismatch
  // would corrupt the stream, so it is checked rather than assumed.
  const bytes = Buffer.byteLength(s, 'utf8')
  ensure(bytes + 5)
  if (bytes < 32) buf[pos++] = 0xa0 | bytes
  else writeLength(bytes, 0xd9)
  const written = buf.utf8Write(s, pos, bytes)
  if (written !== bytes) fail('ERR_FLUENT_ENCODE', `string encoded to ${written} bytes, expected ${bytes}`)
  pos += written
}

/** The 8/16/32-bit length header shared by str (0xd9..0xdb) and bin (0xc4..0xc6); room is ensured. */
function writeLength(n: number, code8: number): void {
  if (n < 0x100) {
    buf[pos++] = code8
    buf[pos++] = n
  } else if (n < 0x10000) {
    buf[pos] = code8 + 1
    put16(n, pos + 1)
    pos += 3
  } else {
    buf[pos] = code8 + 2
    put32(n, pos + 1)
    pos += 5
  }
}

function writeBin(bytes: Uint8Array): void {
  const n = bytes.length
  ensure(n + 5)
  writeLength(n, 0xc4)
  buf.set(bytes, pos)
  pos += n
}

function writeNumber(v: number): void {
  ensure(9)
  // DataView stores are big-endian and compile to one store each, where byte stores bounds-check
  // every byte (a profile of the logger's medium record had writeNumber at 8 % of the thread).
  const d = dv
  const p = pos
  if (Number.isSafeInteger(v)) {
    if (v >= 0) {
      if (v < 0x80) {
        buf[p] = v
        pos = p + 1
      } else if (v < 0x100) {
        d.setUint16(p, 0xcc00 | v)
        pos = p + 2
      } else if (v < 0x10000) {
        buf[p] = 0xcd
        d.setUint16(p + 1, v)
        pos = p + 3
      } else if (v < 0x100000000) {
        buf[p] = 0xce
        d.setUint32(p + 1, v)
        pos = p + 5
      } else {
        buf[p] = 0xcf
        d.setUint32(p + 1, Math.floor(v / 0x100000000))
        d.setUint32(p + 5, v >>> 0)
        pos = p + 9
      }
      return
    }
    if (v >= -32) {
      buf[p] = v & 0xff
      pos = p + 1
    } else if (v >= -0x80) {
      d.setUint16(p, 0xd000 | (v & 0xff))
      pos = p + 2
    } else if (v >= -0x8000) {
      buf[p] = 0xd1
      d.setInt16(p + 1, v)
      pos = p + 3
    } else if (v >= -0x80000000) {
      buf[p] = 0xd2
      d.setInt32(p + 1, v)
      pos = p + 5
    } else {
      const hi = Math.floor(v / 0x100000000)
      buf[p] = 0xd3
      d.setInt32(p + 1, hi)
      d.setUint32(p + 5, v - hi * 0x100000000)
      pos = p + 9
    }
    return
  }
  // Fractions, NaN, +-Infinity and integers beyond 2^53 (already inexact): float64. (-0 is a safe
  // integer, so it was written as 0 above, as JSON writes it.)
  buf[p] = 0xcb
  d.setFloat64(p + 1, v)
  pos = p + 9
}

const U64_MAX = (1n << 64n) - 1n
const I64_MIN = -(1n << 63n)

function writeBigInt(v: bigint): void {
  if (v >= -0x1fffffffffffffn && v <= 0x1fffffffffffffn) return writeNumber(Number(v))
  if (v > U64_MAX || v < I64_MIN) {
    fail('ERR_FLUENT_ENCODE', `BigInt ${v} is outside the 64-bit range msgpack can carry`)
  }
  ensure(9)
  if (v > 0n) {
    buf[pos] = 0xcf
    buf.writeBigUInt64BE(v, pos + 1)
  } else {
    buf[pos] = 0xd3
    buf.writeBigInt64BE(v, pos + 1)
  }
  pos += 9
}

// ---------------------------------------------------------------------------------------------------
// Spliced records (the leveled logger's): fields encoded once, copied into every record.

/** Own enumerable fields, each encoded once as a msgpack key and value, ready to be copied. */
export interface Entries {
  /** The entries back to back, without a map header. */
  readonly bytes: Buffer
  /** Where entry i starts in `bytes`; `starts[count]` is the end. */
  readonly starts: readonly number[]
  /** Entry index by key. */
  readonly index: ReadonlyMap<string, number>
  /** `sieve[sieveSlot(key)]` is 1 for every key in `index`: a 0 answers "not bound" without a lookup. */
  readonly sieve: Uint8Array
  /** How many entries. */
  readonly count: number
}

/** No fields: a logger without bound fields. */
export const NO_ENTRIES: Entries = { bytes: Buffer.alloc(0), starts: [0], index: new Map(), sieve: new Uint8Array(256), count: 0 }

/** A cheap hash of a key (length, first and last character) for `Entries.sieve`. */
function sieveSlot(key: string): number {
  const n = key.length
  return n === 0 ? 0 : (n * 31 + key.charCodeAt(0) * 7 + key.charCodeAt(n - 1)) & 255
}

/** The bound entry index of `key`, or undefined (most keys are answered by the sieve alone). */
function boundIndex(bound: Entries, key: string): number | undefined {
  return bound.sieve[sieveSlot(key)] === 0 ? undefined : bound.index.get(key)
}

/**
 * Encodes the own enumerable fields of `fields` (the rules of any record's fields) as entries,
 * after `base`'s, a key in `fields` replacing the same key of `base`. Encoded in a side buffer, so
 * records staged but not yet handed over are untouched. Throws as encodeRecord does.
 */
export function encodeEntries(fields: object, base: Entries, maxBytes: number): Entries {
  enterSide()
  try {
    pos = 0
    recordStart = 0
    limit = maxBytes
    const own: Array<[string, number, number]> = []
    for (const key in fields) {
      if (!hasOwn.call(fields, key)) continue
      const value = (fields as Record<string, unknown>)[key]
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
      const from = pos
      writeString(key)
      writeValue(value, 1)
      if (pos > maxBytes) tooLarge(pos)
      own.push([key, from, pos])
    }
    const replaced = new Set(own.map((e) => e[0]))
    const parts: Buffer[] = []
    const starts: number[] = []
    const index = new Map<string, number>()
    let at = 0
    const add = (key: string, bytes: Buffer): void => {
      index.set(key, starts.length)
      starts.push(at)
      parts.push(bytes)
      at += bytes.length
    }
    for (const [key, i] of base.index) {
      if (!replaced.has(key)) add(key, base.bytes.subarray(base.starts[i], base.starts[i + 1]))
    }
    // A key seen twice (a Proxy can report one twice): the last value wins, as in an object literal.
    const last = new Map(own.map((e, i) => [e[0], i]))
    own.forEach(([key, from, to], i) => {
      if (last.get(key) === i) add(key, Buffer.from(buf.subarray(from, to)))
    })
    starts.push(at)
    const sieve = new Uint8Array(256)
    for (const key of index.keys()) sieve[sieveSlot(key)] = 1
    return { bytes: Buffer.concat(parts, at), starts, index, sieve, count: index.size }
  } finally {
    leaveSide()
  }
}

/** Bytes encoded once and copied into records a word at a time (`writeWords`). */
export interface Words {
  /** The bytes as big-endian words, the last one padded with zeros. */
  readonly words: Int32Array
  /** The number of bytes (the last word may hold fewer). */
  readonly length: number
}

/** `bytes` as `Words`. */
export function toWords(bytes: Uint8Array): Words {
  const words = new Int32Array((bytes.length + 3) >>> 2)
  for (let i = 0; i < bytes.length; i++) words[i >>> 2] |= bytes[i] << (24 - 8 * (i & 3))
  return { words, length: bytes.length }
}

const NO_WORDS: Words = toWords(new Uint8Array(0))

/**
 * Copies pre-encoded bytes a word per store, as `writeSlot` does (a profile of the logger had the
 * byte loop this replaced at 6 % of the thread). The last store may write up to 3 bytes past the
 * end: room is ensured, and whatever is written next overwrites them.
 */
function writeWords(w: Words): void {
  const n = w.length
  ensure(n + 3)
  const v = dv
  const words = w.words
  const p = pos
  for (let i = 0; i < n; i += 4) v.setInt32(p + i, words[i >>> 2])
  pos = p + n
}

/** The record keys of a logger's trace ids (`traceContext`): names, and each name encoded once. */
export interface TraceKeys {
  /** The keys of the trace id, span id and trace flags. */
  readonly names: readonly [string, string, string]
  /** Each key encoded as a msgpack string. */
  readonly words: readonly [Words, Words, Words]
}

const NO_TRACE_KEYS: TraceKeys = { names: ['', '', ''], words: [NO_WORDS, NO_WORDS, NO_WORDS] }

/**
 * The record the logger stages: `encodeSpliced` writes `{ [levelKey]: level,
 * [messageKey]: message, ...bound, ...trace ids, ...fields }` with no key twice: a field passed with
 * the call replaces a bound one or a trace id, a trace id replaces a bound field, and the level and
 * message (when given) replace all. One object serves every call: `writeSpliced` copies it into
 * locals before any user code runs, so a getter that logs cannot change the record in progress.
 */
export const spliced = {
  levelKey: 'level',
  /** The level entry (`levelKey` and the level's name), encoded once per logger and level. */
  levelEntry: NO_WORDS,
  messageKey: 'msg',
  /** The level entry followed by `messageKey` as a msgpack string: what a record with a message starts with. */
  levelHead: NO_WORDS,
  /** undefined: no message key is written (a field of that name may give one). */
  message: undefined as unknown,
  bound: NO_ENTRIES,
  /** The active span's trace id, or undefined: no trace entries (then spanId and traceFlags are unread). */
  traceId: undefined as string | undefined,
  spanId: '',
  traceFlags: '',
  traceKeys: NO_TRACE_KEYS,
  fields: undefined as object | undefined,
}

/** `s` as a msgpack string, encoded in a side buffer (staged records are untouched). */
export function encodeString(s: string): Buffer {
  enterSide()
  try {
    pos = 0
    recordStart = 0
    limit = 1 << 20
    writeString(s)
    return Buffer.from(buf.subarray(0, pos))
  } finally {
    leaveSide()
  }
}

/** One trace entry (key encoded once, the id as a string), unless the call's fields have that key; returns the entries written. */
function traceEntry(keys: TraceKeys, k: 0 | 1 | 2, value: string, fields: object | undefined): number {
  if (fields !== undefined && hasOwn.call(fields, keys.names[k])) return 0
  writeWords(keys.words[k])
  writeString(value)
  return 1
}

/** `encodeRecord` for the `spliced` record: a separate entry, so that neither path's inlining crowds the other's. */
export function encodeSpliced(start: number, maxBytes: number): number {
  pos = start
  recordStart = start
  limit = maxBytes
  slot = 0
  const { levelKey, levelEntry, messageKey, levelHead, message, bound, traceId, spanId, traceFlags, traceKeys, fields } = spliced
  spliced.fields = undefined
  spliced.message = undefined
  spliced.traceId = undefined
  const hasMessage = message !== undefined
  const head = startMap(0)
  let count = 1
  if (hasMessage) {
    writeWords(levelHead)
    writeValue(message, 1)
    count++
  } else writeWords(levelEntry)
  // Bound entries replaced by this call's fields (or by the level and message) are left out.
  let skip: Set<number> | undefined
  if (bound.count > 0) {
    let i = boundIndex(bound, levelKey)
    if (i !== undefined) (skip ??= new Set()).add(i)
    if (hasMessage && (i = boundIndex(bound, messageKey)) !== undefined) (skip ??= new Set()).add(i)
    if (traceId !== undefined) {
      for (const key of traceKeys.names) if ((i = boundIndex(bound, key)) !== undefined) (skip ??= new Set()).add(i)
    }
    if (fields !== undefined) {
      for (const key in fields) {
        if (!hasOwn.call(fields, key)) continue
        if ((i = boundIndex(bound, key)) !== undefined) (skip ??= new Set()).add(i)
      }
    }
    if (skip === undefined) {
      const n = bound.bytes.length
      ensure(n)
      buf.set(bound.bytes, pos)
      pos += n
      count += bound.count
    } else {
      for (let e = 0; e < bound.count; e++) {
        if (skip.has(e)) continue
        const from = bound.starts[e]
        const n = bound.starts[e + 1] - from
        ensure(n)
        bound.bytes.copy(buf, pos, from, from + n)
        pos += n
        count++
      }
    }
  }
  if (traceId !== undefined) {
    count += traceEntry(traceKeys, 0, traceId, fields) + traceEntry(traceKeys, 1, spanId, fields) + traceEntry(traceKeys, 2, traceFlags, fields)
  }
  if (fields !== undefined) {
    for (const key in fields) {
      if (!hasOwn.call(fields, key)) continue
      if (key === levelKey || (hasMessage && key === messageKey)) continue
      const value = (fields as Record<string, unknown>)[key]
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
      writeString(key)
      writeValue(value, 1)
      count++
    }
  }
  finishMap(head, count, 0)
  if (pos - start > maxBytes) tooLarge(pos - start)
  return pos
}
