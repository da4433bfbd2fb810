/**
 * msgpack strings, and the recurring-string cache that makes most of them a copy.
 *
 * Records of one kind repeat their keys, and many of their values (service, host, method, level), in
 * the same order. The k-th string written in a record is remembered with its encoded bytes, as words,
 * in slot k; when the k-th string of a later record is the same string (===: a pointer comparison for
 * the internalized keys and literals that recur, otherwise a comparison of the characters), its bytes
 * are copied instead of encoded. The bytes are exact either way: a different string only costs the
 * comparison. The slot cursor (`out.slot`) starts again with every record; a record that logs from
 * inside a record disturbs only the hits, never the bytes.
 *
 * Memory: a slot holds at most a 62-character string. A string of 13 characters or more may be a
 * slice that keeps a much larger string alive (V8 makes shorter substrings copies), so those are
 * remembered as a copy of their own, made from the bytes just written, and only when the same slot
 * saw a string of the same length and fingerprint last time: a value that changes with every record
 * (a request id) costs no copy.
 */
import { fail } from './fail.js'
import * as state from './state.js'

// Local bindings rather than named imports: in tsc's CommonJS output a named import is read off the
// other module's exports object at every use (measured in ../encoder.ts's opening comment).
const { enterSide, ensure, leaveSide, out, put16, put32 } = state

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
  const v = out.dv
  const p = out.pos
  const w = k * SLOT_WORDS
  for (let i = 0; i < n; i += 4) v.setInt32(p + i, slotWords[w + (i >>> 2)])
  out.pos = p + n
}

/** Remembers `s` (or an equal string) in slot k, with the `out.pos - head` bytes just written for it. */
function remember(k: number, s: string, head: number): void {
  const n = out.pos - head
  if (n > SLOT_BYTES) return
  ensure(4)
  const v = out.dv
  const w = k * SLOT_WORDS
  for (let i = 0; i < n; i += 4) slotWords[w + (i >>> 2)] = v.getInt32(head + i)
  slotLength[k] = n
  slotString[k] = s
}

/** Writes `s` as a msgpack string: its slot's bytes when it recurs, else encoded (and remembered). */
export function writeString(s: string): void {
  const k = out.slot++
  if (k < SLOTS && slotString[k] === s) return writeSlot(k)
  const head = out.pos
  writeStringBytes(s)
  if (k >= SLOTS) return
  const n = s.length
  if (n < SLICE_MIN) return remember(k, s, head)
  // An ASCII fixstr or str8 (one byte per character) that fits a slot: remembered as its own copy,
  // if this slot's last long string looked the same.
  const body = n < 32 ? head + 1 : head + 2
  const pos = out.pos
  if (pos - body !== n || pos - head > SLOT_BYTES) return
  const seen = n | (s.charCodeAt(0) << 8) | (s.charCodeAt(n >>> 1) << 16) | (s.charCodeAt(n - 1) << 24)
  if (slotSeen[k] !== seen) {
    slotSeen[k] = seen
    return
  }
  remember(k, out.buf.latin1Slice(body, pos), head)
}

function writeStringBytes(s: string): void {
  const n = s.length
  if (n < 256) {
    // Fast path for ASCII up to 255 characters (keys, most values): no native call, and four
    // characters per store. Room for 3 bytes past the end lets the last store be a whole word.
    ensure(n + 5)
    const b = out.buf
    const v = out.dv
    const head = out.pos
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
      out.pos = p
      return
    }
  }
  // Lone surrogates count and encode as U+FFFD (3 bytes), consistently in both calls; a mismatch
  // would corrupt the stream, so it is checked rather than assumed.
  const bytes = Buffer.byteLength(s, 'utf8')
  ensure(bytes + 5)
  if (bytes < 32) out.buf[out.pos++] = 0xa0 | bytes
  else writeLength(bytes, 0xd9)
  const written = out.buf.utf8Write(s, out.pos, bytes)
  if (written !== bytes) fail('ERR_FLUENT_ENCODE', `string encoded to ${written} bytes, expected ${bytes}`)
  out.pos += written
}

/** The 8/16/32-bit length header shared by str (0xd9..0xdb) and bin (0xc4..0xc6); room is ensured. */
export function writeLength(n: number, code8: number): void {
  const buf = out.buf
  const pos = out.pos
  if (n < 0x100) {
    buf[pos] = code8
    buf[pos + 1] = n
    out.pos = pos + 2
  } else if (n < 0x10000) {
    buf[pos] = code8 + 1
    put16(n, pos + 1)
    out.pos = pos + 3
  } else {
    buf[pos] = code8 + 2
    put32(n, pos + 1)
    out.pos = pos + 5
  }
}

/** `s` as a msgpack string, encoded in a side buffer (staged records are untouched). */
export function encodeString(s: string): Buffer {
  enterSide()
  try {
    out.pos = 0
    out.recordStart = 0
    out.limit = 1 << 20
    writeString(s)
    return Buffer.from(out.buf.subarray(0, out.pos))
  } finally {
    leaveSide()
  }
}
