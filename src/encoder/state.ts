/**
 * The encoder's output: the buffer a record is written into, the write position and the record's
 * limits, shared by every writer (values.ts, strings.ts, spliced.ts), and the side buffers of records
 * encoded from inside records.
 *
 * One object, `out`, rather than module-level `let`s: an ES module's bindings cannot be assigned from
 * another module, and the writers live in several. (Measured against the one-file encoder whose
 * state was module-level `let`s: see the opening comment of ../encoder.ts.)
 *
 * Re-entrancy: user code runs in the middle of a record (getters, `toJSON`, Proxy traps). A record
 * encoded from inside another one (a getter that logs) is written into a side buffer: `enterSide`
 * saves the outer record's state and `leaveSide` restores it, so nesting is strictly last-in
 * first-out and the outer bytes are never touched.
 */
import { fail } from './fail.js'

const INITIAL_SIZE = 64 * 1024
const SIDE_SIZE = 4 * 1024

/** Node's Buffer has an unchecked UTF-8 writer that skips `write`'s argument parsing. */
export type FastBuffer = Buffer & { utf8Write(s: string, offset: number, length: number): number; latin1Slice(start: number, end: number): string }

// allocUnsafeSlow: an ArrayBuffer of its own at offset 0, so the stage's typed-array views are aligned.
const initial = Buffer.allocUnsafeSlow(INITIAL_SIZE) as FastBuffer

/** Where the record being encoded is written, and its bounds. */
export const out = {
  /** The buffer: the stage's (usePrimary), a side buffer, or one grown from either. */
  buf: initial,
  /** A view of `buf` for word-sized stores (four ASCII characters in one store). */
  dv: new DataView(initial.buffer, initial.byteOffset, initial.length),
  /** The next byte to write. */
  pos: 0,
  /** Where the record being encoded starts (the stage's earlier frames lie before it). */
  recordStart: 0,
  /** The record's byte limit (maxRecordBytes). */
  limit: 4 * 1024 * 1024,
  /** The number of strings written so far in the current record: its cursor in the string slots. */
  slot: 0,
}

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
  return out.buf
}

/**
 * Makes `b` (with `view`, a DataView of it) the buffer outermost records are encoded into: each
 * client stages into a buffer of its own (stage.ts). Only between records (nothing nested).
 */
export function usePrimary(b: Buffer, view: DataView): void {
  if (saved.length !== 0) fail('ERR_FLUENT_INTERNAL', 'stage buffer switched inside a record')
  out.buf = b as FastBuffer
  out.dv = view
}

/** The DataView of the primary buffer (kept by the stage with the buffer it belongs to). */
export function primaryView(): DataView {
  return saved.length > 0 ? saved[0].dv : out.dv
}

/** The stage's buffer: the outermost record's, even while a nested record is being encoded. */
export function primary(): Buffer {
  return saved.length > 0 ? saved[0].buf : out.buf
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
  saved.push({ buf: out.buf, dv: out.dv, pos: out.pos, recordStart: out.recordStart, limit: out.limit, slot: out.slot })
  out.buf = side
  out.dv = view
}

/** Back to the outer record, exactly where it was. Allocates nothing, so it cannot fail. */
export function leaveSide(): void {
  const side = out.buf
  const view = out.dv
  const s = saved.pop() as Saved
  out.buf = s.buf
  out.dv = s.dv
  out.pos = s.pos
  out.recordStart = s.recordStart
  out.limit = s.limit
  out.slot = s.slot
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
  out.buf = s.buf
  out.dv = s.dv
}

/** Starts a record at `start` (the string slots from the first). */
export function begin(start: number, maxBytes: number): void {
  out.pos = start
  out.recordStart = start
  out.limit = maxBytes
  out.slot = 0
}

/** Throws ERR_FLUENT_RECORD_TOO_LARGE for a record of at least `size` bytes. */
export function tooLarge(size: number): never {
  fail('ERR_FLUENT_RECORD_TOO_LARGE', `record exceeds maxRecordBytes (${out.limit}): ${size}+ bytes`)
}

/**
 * Makes room for `n` more bytes. Only the test is here, so that V8 inlines it into every writer (a
 * profile had `ensure` as a call at 7 % of the encoder's time); growing is out of line.
 */
export function ensure(n: number): void {
  if (out.pos + n > out.buf.length) grow(n)
}

/** Grows the scratch buffer to hold `n` more bytes (never past the record limit + slack). */
function grow(n: number): void {
  const pos = out.pos
  const buf = out.buf
  const need = pos + n
  // Slack over the limit so the final size check reports the real size; the stage sits before recordStart.
  if (need - out.recordStart > out.limit + 1024 * 1024) tooLarge(need - out.recordStart)
  // A multiple of 8, so the stage's typed-array views cover the whole buffer.
  const next = Buffer.allocUnsafeSlow((Math.max(need, buf.length * 2) + 7) & ~7) as FastBuffer
  buf.copy(next, 0, 0, pos)
  out.buf = next
  out.dv = new DataView(next.buffer, next.byteOffset, next.length)
}

// Big-endian stores by hand: Buffer's writeUInt*BE validate their arguments on every call, which
// showed in profiles of the emit loop. Callers have checked ranges already; `>>>`/`&` wrap negatives
// to two's complement, so the same helpers serve signed values.
/** Stores `v` as 16 bits big-endian at `at` (room is ensured). */
export function put16(v: number, at: number): void {
  const buf = out.buf
  buf[at] = (v >>> 8) & 0xff
  buf[at + 1] = v & 0xff
}

/** Stores `v` as 32 bits big-endian at `at` (room is ensured). */
export function put32(v: number, at: number): void {
  const buf = out.buf
  buf[at] = (v >>> 24) & 0xff
  buf[at + 1] = (v >>> 16) & 0xff
  buf[at + 2] = (v >>> 8) & 0xff
  buf[at + 3] = v & 0xff
}
