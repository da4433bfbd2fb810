/**
 * The staging area: records are encoded straight into one reusable buffer, each behind a 24-byte
 * header, and handed to the native side a block at a time (one Node-API call per block instead of
 * per record; see crates/fluent-forward/src/staging.rs for the format). A block is handed over when
 * it reaches HANDOVER_BYTES, at the end of the current microtask checkpoint, or when the client
 * flushes, closes, reads stats, or the process exits.
 *
 * One module-wide buffer serves every client: JS is single-threaded, and a client that finds another
 * client's records staged hands those over first.
 */
import { performance } from 'node:perf_hooks'
import { encodeRecord, scratch } from './encoder.js'

export const HEADER = 24
const NOW = 0xffffffff
const HANDOVER_BYTES = 64 * 1024

/** What the stage needs from a client: somewhere to deliver a block. */
export interface StageOwner {
  deliver(block: Buffer, length: number, monoNow: number): void
}

let owner: StageOwner | undefined
/** End of the committed frames (8-aligned). */
let used = 0
let scheduled = false
let viewOf: Buffer | undefined
let u32: Uint32Array<ArrayBufferLike> = new Uint32Array(0)
let f64: Float64Array<ArrayBufferLike> = new Float64Array(0)

function views(): void {
  const b = scratch()
  if (b === viewOf) return
  viewOf = b
  u32 = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2)
  f64 = new Float64Array(b.buffer, b.byteOffset, b.length >>> 3)
}

/** Hands whatever is staged to its owner. Safe to call at any time. */
export function handOver(): void {
  if (used === 0 || owner === undefined) return
  const length = used
  used = 0
  owner.deliver(scratch(), length, performance.now())
}

function onCheckpoint(): void {
  scheduled = false
  handOver()
}

/** Makes `next` the owner of the stage, handing over another client's records first. */
export function claim(next: StageOwner): void {
  if (owner !== next) {
    handOver()
    owner = next
  }
}

/** Drops ownership (the client closed) after handing its records over. */
export function release(client: StageOwner): void {
  if (owner === client) {
    handOver()
    owner = undefined
  }
}

/**
 * Encodes `record` behind a header at the end of the stage, without committing it.
 * `sec < 0` stamps the record with the monotonic clock, turned into wall time at the handover.
 * Returns the record's encoded length. Throws what `encodeRecord` throws; nothing is staged then.
 */
export function encode(tagId: number, record: unknown, sec: number, nsec: number, maxBytes: number): number {
  const start = used + HEADER
  const end = encodeRecord(record, start, maxBytes)
  views()
  const h = used >>> 2
  u32[h] = tagId
  u32[h + 1] = end - start
  if (sec < 0) {
    u32[h + 2] = 0
    u32[h + 3] = NOW
    f64[(used >>> 3) + 2] = performance.now()
  } else {
    u32[h + 2] = sec
    u32[h + 3] = nsec
  }
  return end - start
}

/** Commits the record `encode` just wrote, handing the block over if it is large enough. */
export function commit(length: number): void {
  used = (used + HEADER + length + 7) & ~7
  if (used >= HANDOVER_BYTES) {
    handOver()
  } else if (!scheduled) {
    scheduled = true
    queueMicrotask(onCheckpoint)
  }
}
