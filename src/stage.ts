/**
 * The staging area: records are encoded straight into one reusable buffer, each behind a header,
 * and handed to the native side a block at a time (one Node-API call per block instead of per
 * record; see crates/fluent-forward/src/staging.rs for the format). A block is handed over when it
 * reaches HANDOVER_BYTES, HANDOVER_DELAY_MS after the first record staged since the last handover
 * (see "Bounded delay"), or when the client flushes, closes, reads stats, emits raw bytes, or the
 * process exits.
 *
 * Each client stages into a buffer of its own, and the encoder writes into the current owner's. A
 * client that finds another one owning the stage parks that one's buffer, records and all, and
 * takes its own: no handover (a native call) per switch, so records emitted to many clients in turn
 * cost what records to one client cost (bench/scale.ts). Parked records are handed over by the
 * timer, and by any handover (flush, stats, emitRaw, close, a nested record), which hands over every
 * client's.
 *
 * Other holders (the pino destination's lines) are listed with `hold` and handed over first by
 * every handover, on the same timer.
 *
 * Re-entrancy rule: while a record is being encoded (`depth > 0`), user code may run (getters,
 * `toJSON`, Proxy traps) and call back into any client. Such a nested record is encoded into a side
 * buffer and handed over on its own (`stageNested`), after the frames already committed here. A
 * handover requested meanwhile (stats, flush, emitRaw, close) delivers only committed frames and
 * moves `base` past them, so the record in progress keeps its place and its header offset.
 *
 * Terminate rule: `worker.terminate()` stops a Worker's JS anywhere, so the checkpoint handover may
 * never come, and then only the native env cleanup hook can deliver what `emit` accepted. Each
 * client's `marks` are, at every moment, `[start, end)` of its frames not handed over, in the buffer
 * last passed to `track` (crates/fluent-forward-napi/src/stage_marks.rs): the buffer is tracked
 * before its frames are marked or handed over, and a handover of it sets `start = end` natively.
 * After a handover the marks are zeroed end first, so no moment shows a frame already handed over.
 */
import { performance } from 'node:perf_hooks'
import { HANDOVER_BYTES, pushStaged, STAGING_HEADER, STAGING_NOW, trackStage } from '../binding.js'
import { encodeRecord, encodeSpliced, enterSide, leaveSide, primary, primaryView, scratch, resetSides, spliced, usePrimary } from './encoder.js'

/** Where a stage's block goes: one per client, private to it. */
export interface StageSink {
  /** Pushes `length` bytes of frames; returns the native answer (see `pushStaged` in the binding). */
  push(block: Buffer, length: number, monoNow: number): number
  /** The client's own stage buffer, made by the stage on the client's first record. */
  stage?: OwnStage
  /** `[start, end)` in bytes of the frames not handed over, in `tracked` (see "Terminate rule"). */
  readonly marks: Int32Array<ArrayBufferLike>
  /** Tells the native side which buffer `marks` refer to (`monoNow`: `performance.now()`). */
  track(buf: Buffer, monoNow: number): void
  /** The buffer last passed to `track`. */
  tracked?: Buffer
  /** The longest its staged records may wait for a handover, ms (see "Bounded delay"). */
  readonly delayMs: number
}

/**
 * The sink of native client `id`: blocks go to `pushStaged`, whose answer also gives the bytes
 * buffered (`onBuffered`, the client's estimate for `emit`'s answer). The marks live in a Buffer the
 * native side holds, for a Worker's terminate() (see "Terminate rule").
 */
export function nativeSink(id: number, onBuffered: (bytes: number) => void, flushIntervalMs: number): StageSink {
  const marks = Buffer.alloc(8)
  return {
    push: (block, length, monoNow) => {
      const answer = pushStaged(id, block, length, monoNow)
      if (answer >= 0) onBuffered(Math.floor(answer / 2))
      return answer
    },
    marks: new Int32Array(marks.buffer, marks.byteOffset, 2),
    track: (stage, monoNow) => trackStage(id, stage, marks, monoNow),
    delayMs: Math.min(HANDOVER_DELAY_MS, flushIntervalMs),
  }
}

let owner: StageSink | undefined
/** Start of the frames not yet handed over (0 except while a nested call handed over mid-record). */
let base = 0
/** End of the committed frames (8-aligned). */
let used = 0
/** Records being encoded right now: 1 for an ordinary emit, more while user code logs from inside one. */
let depth = 0
let scheduled = false
/** Marks no native side reads: the stage's while nobody owns it. */
const SPARE_MARKS = new Int32Array(2)
/** The owner's `marks`, kept equal to `[base, used)`. */
let marks: Int32Array<ArrayBufferLike> = SPARE_MARKS
let viewOf: Buffer | undefined
let u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0)
let f64: Float64Array<ArrayBufferLike> = new Float64Array(0)

/** A client's own stage buffer; while another client owns the stage, `used` bytes of frames wait in it. */
export interface OwnStage {
  /** The buffer records are staged into. */
  buf: Buffer
  /** A DataView of `buf`. */
  view: DataView
  /** Bytes of `buf` holding frames. */
  used: number
  /** In `waiting` (parked with frames since the last handover). */
  listed: boolean
  /** The frame-header views last made for this client's buffer (see `views`), kept across switches. */
  viewOf: Buffer | undefined
  /** `viewOf` as 32-bit words, for writing frame headers. */
  u32: Uint32Array<ArrayBufferLike>
  /** `viewOf` as doubles, for writing frame headers. */
  f64: Float64Array<ArrayBufferLike>
}
/** Clients whose stages were parked with frames since the last handover (the owner may be among them). */
const waiting: StageSink[] = []
const STAGE_SIZE = 64 * 1024
/** A client's buffer that grew past this (for a large record) is replaced once its frames are handed over. */
const KEEP_STAGE = 4 * STAGE_SIZE

function newStage(): OwnStage {
  // allocUnsafeSlow: an ArrayBuffer of its own at offset 0, so the typed-array views are aligned.
  const buf = Buffer.allocUnsafeSlow(STAGE_SIZE)
  return {
    buf,
    view: new DataView(buf.buffer, buf.byteOffset, buf.length),
    used: 0,
    listed: false,
    viewOf: undefined,
    u32: new Uint32Array(0),
    f64: new Float64Array(0),
  }
}

/** Is a record being encoded right now (so a new one must go through `stageNested`)? */
export function nested(): boolean {
  return depth > 0
}

function views(b: Buffer): void {
  if (b === viewOf) return
  viewOf = b
  u32 = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2)
  f64 = new Float64Array(b.buffer, b.byteOffset, b.length >>> 3)
}

/** Empties marks after their frames were handed over: end first, so no moment shows a frame twice. */
function clearMarks(m: Int32Array<ArrayBufferLike>): void {
  m[1] = 0
  m[0] = 0
}

/** Makes `b` the buffer the native side reads `sink`'s marks in (before any frame of it is marked). */
function track(sink: StageSink, b: Buffer): void {
  sink.tracked = b
  sink.track(b, performance.now())
}

/** Hands a parked client's frames over; a buffer that grew large is replaced by a small one. */
function handOverParked(sink: StageSink, st: OwnStage): void {
  const n = Math.min(st.used, st.buf.length)
  st.used = 0
  if (st.buf !== sink.tracked) track(sink, st.buf)
  sink.push(st.buf, n, performance.now())
  // Parked frames start at 0 (see claim); the push took them all (start = end natively).
  clearMarks(sink.marks)
  if (st.buf.length > KEEP_STAGE) Object.assign(st, newStage())
}

/**
 * Hands over whatever is committed, every client's: the parked stages' first, then the owner's.
 * Returns the owner's native answer, or -1 if it had nothing.
 */
export function handOver(): number {
  if (holders.length > 0) handOverHolders()
  if (waiting.length > 0) {
    for (let i = 0; i < waiting.length; i++) {
      const sink = waiting[i]
      const st = sink.stage
      if (st === undefined) continue
      st.listed = false
      // The owner's frames are the stage's own (below); it was parked once and came back.
      if (sink !== owner && st.used > 0) handOverParked(sink, st)
    }
    waiting.length = 0
  }
  let answer = -1
  if (used > base && owner !== undefined) {
    const b = primary()
    // The buffer may have grown during the record in progress; its committed frames were copied.
    if (b !== owner.tracked) track(owner, b)
    // The last frame's padding may run past the buffer; the native side needs no padding after it.
    const end = Math.min(used, b.length)
    const block = base === 0 ? b : b.subarray(base, end)
    answer = owner.push(block, end - base, performance.now())
  }
  if (depth === 0) {
    base = 0
    used = 0
    clearMarks(marks)
  } else {
    base = used
    marks[0] = base
  }
  return answer
}

/**
 * Bounded delay: committed records wait in the stage for at most HANDOVER_DELAY_MS, then one
 * unref'd timer hands them over, all clients' at once. A service logs a record or two per request,
 * one request per event-loop turn; handing over at every microtask checkpoint cost each logged
 * request a promise reaction, a clock read and a Node-API call that takes the queue's lock
 * (bench/service.ts, docs/performance.md). Now a request pays the encode and a flag test, and
 * the handover's cost is shared by every record of the interval.
 *
 * Nothing else waits on the timer: `emit`'s answer and the cap come from the estimate when the
 * record is staged (a record that may not fit is handed over at once), record times are stamped
 * then, and flush, stats, close, raw records and the exit drain hand over first. A Worker stopped
 * by `terminate()` runs no JS, and its staged frames are drained natively from the marks (see
 * "Terminate rule"). The timer is made once and re-armed with `refresh()` by the first record
 * committed after it fired, so a steady stream arms it once per interval; it is unref'd, so it never
 * keeps the process alive (an exit hands the stage over, src/exit.ts). The delay is short next to the
 * writer's own batching (`flushIntervalMs`, 50 ms by default); a client whose flush interval is
 * shorter arms the timer with that instead, so the stage never adds more than the writer waits. The
 * native push answers -1 rather than throwing; an error there all the same (a bug) surfaces as an
 * uncaught exception from the timer (from the checkpoint's promise it was an unhandled rejection).
 */
export const HANDOVER_DELAY_MS = 10
let timer: NodeJS.Timeout | undefined
/** The delay the timer was made with (re-made when a client needs another one). */
let timerDelay = 0

/**
 * Other holders of accepted data on the JS side, listed while they hold some: every handover hands
 * them over first, and the stage's timer bounds how long they wait (the pino destination's lines,
 * src/held-lines.ts).
 */
const holders: Array<() => void> = []

/** Each holder hands its data straight to the native side; none of it goes through the stage. */
function handOverHolders(): void {
  const list = holders.splice(0)
  for (let i = 0; i < list.length; i++) list[i]()
}

/** Lists `handOverHeld` for the next handover, which comes within `delayMs` (call it once per listing). */
export function hold(handOverHeld: () => void, delayMs: number): void {
  holders.push(handOverHeld)
  schedule(delayMs)
}

function onTimer(): void {
  scheduled = false
  handOver()
}

/** When the armed timer fires (`performance.now()`), while `scheduled`. */
let deadline = 0

function schedule(delayMs: number): void {
  if (scheduled) {
    // Armed with a delay no longer than this one, before now: it fires within this bound too.
    if (delayMs >= timerDelay) return
    // A client with a shorter flush interval: fire sooner if its bound comes first.
    if (performance.now() + delayMs >= deadline) return
  }
  scheduled = true
  deadline = performance.now() + delayMs
  if (timer === undefined || timerDelay !== delayMs) {
    if (timer !== undefined) clearTimeout(timer)
    timerDelay = delayMs
    timer = setTimeout(onTimer, delayMs)
    timer.unref()
  } else {
    timer.refresh()
  }
}

/**
 * Makes `next` the owner of the stage (only between records: the client calls it when nothing is
 * nested). The previous owner's buffer is parked with its frames, to be handed over later. Nothing
 * is allocated here but a client's first buffer.
 */
export function claim(next: StageSink): void {
  if (owner === next) return
  // A handover inside the owner's last record left `base` past frames already handed over; a
  // parked stage is handed over from 0, so hand the rest over now rather than send those again.
  if (base > 0) handOver()
  if (owner !== undefined) {
    const st = (owner.stage ??= newStage())
    st.buf = primary()
    st.view = primaryView()
    st.used = used
    st.viewOf = viewOf
    st.u32 = u32
    st.f64 = f64
    if (used > 0 && !st.listed) {
      st.listed = true
      waiting.push(owner)
      schedule(owner.delayMs)
    }
  }
  const mine = (next.stage ??= newStage())
  usePrimary(mine.buf, mine.view)
  viewOf = mine.viewOf
  u32 = mine.u32
  f64 = mine.f64
  used = mine.used
  base = 0
  owner = next
  marks = next.marks
}

/** Drops ownership (the client closed) after handing its records over; its buffer goes. */
export function release(sink: StageSink): void {
  // The exit drain releases every client before it closes them: what the holders keep goes first.
  if (holders.length > 0) handOverHolders()
  const st = sink.stage
  if (st !== undefined && sink !== owner && st.used > 0) handOverParked(sink, st)
  if (owner === sink) {
    handOver()
    owner = undefined
    marks = SPARE_MARKS
  }
  sink.stage = undefined
}

/** Writes a frame header for a record of `length` bytes whose header starts at `at` in `b`. */
function writeHeader(b: Buffer, at: number, tagId: number, length: number, sec: number, nsec: number): void {
  views(b)
  const h = at >>> 2
  u32[h] = tagId
  u32[h + 1] = length
  u32[h + 2] = sec
  u32[h + 3] = nsec
  if (nsec === STAGING_NOW) f64[(at >>> 3) + 2] = performance.now()
}

/**
 * Encodes `record` behind a header at the end of the stage, without committing it (the caller owns
 * the stage through `claim`). `nsec === STAGING_NOW` stamps the record with the monotonic clock,
 * turned into wall time at the handover. Returns the record's encoded length. Throws what
 * `encodeRecord` throws, or what user code throws; nothing is staged then.
 */
export function encode(tagId: number, record: unknown, sec: number, nsec: number, maxBytes: number): number {
  resetSides()
  const at = used
  depth++
  let end: number
  try {
    end = record === spliced ? encodeSpliced(at + STAGING_HEADER, maxBytes) : encodeRecord(record, at + STAGING_HEADER, maxBytes)
  } finally {
    depth--
  }
  const length = end - at - STAGING_HEADER
  writeHeader(scratch(), at, tagId, length, sec, nsec)
  return length
}

/**
 * Commits the record `encode` just wrote. With `now`, hands the block over at once and returns the
 * native answer, whose low bit says whether this last record was accepted; otherwise returns -1.
 */
export function commit(length: number, now: boolean): number {
  used = (used + STAGING_HEADER + length + 7) & ~7
  // The buffer is the owner's first, or a larger one the encoder moved the stage into.
  const b = scratch()
  if (b !== (owner as StageSink).tracked) track(owner as StageSink, b)
  marks[1] = used
  if (now || used >= HANDOVER_BYTES) return handOver()
  schedule((owner as StageSink).delayMs)
  return -1
}

/**
 * A record emitted while another is being encoded: encoded into a side buffer and pushed to `sink`
 * on its own, after everything committed so far (so order is kept). Returns the native answer.
 */
export function stageNested(
  sink: StageSink,
  tagId: number,
  record: unknown,
  sec: number,
  nsec: number,
  maxBytes: number,
): number {
  handOver()
  enterSide() // throws (saving nothing) past the nesting limit
  depth++
  try {
    const end = record === spliced ? encodeSpliced(STAGING_HEADER, maxBytes) : encodeRecord(record, STAGING_HEADER, maxBytes)
    const length = end - STAGING_HEADER
    const side = scratch()
    writeHeader(side, 0, tagId, length, sec, nsec)
    return sink.push(side, STAGING_HEADER + length, performance.now())
  } finally {
    depth--
    leaveSide()
  }
}
