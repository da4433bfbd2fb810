// Reads a spool segment file as crates/fluent-forward/src/spool/README.md documents it, so a test can
// damage one chosen frame and know exactly which records that frame held (and so which must be
// missing and which must still arrive). All integers little-endian:
//   header  = "FNSPOOL" | version u8 | 4 reserved | crc32c u32           (16 bytes)
//   frame   = "SPL\x01" | len u32 | crc32c(len_le ‖ payload) u32 | payload[len]
//   payload = records u32 | tag_len u16 | tag | offsets u32 × records | entries
import { readFileSync } from 'node:fs'
import { decode } from '@msgpack/msgpack'

export const HEADER_BYTES = 16
export const FRAME_HEAD_BYTES = 12

export interface Frame {
  /** Offset of the frame's marker in the file. */
  offset: number
  /** Bytes of the whole frame (head and payload). */
  bytes: number
  tag: string
  /** Offset in the file where the entries start (a byte flipped from here on is a record byte). */
  entriesAt: number
  /** The `i` of each record, in order (the tests' records are {i, pad}). */
  ids: number[]
}

export function readSegment(file: string): { frames: Frame[]; size: number } {
  const buf = readFileSync(file)
  if (buf.subarray(0, 7).toString('latin1') !== 'FNSPOOL') throw new Error(`${file}: no FNSPOOL header (format changed? see the spool README)`)
  const frames: Frame[] = []
  let at = HEADER_BYTES
  while (at + FRAME_HEAD_BYTES <= buf.length) {
    if (buf.readUInt32BE(at) !== 0x53504c01) throw new Error(`${file}: no frame marker at ${at}`)
    const len = buf.readUInt32LE(at + 4)
    const payload = at + FRAME_HEAD_BYTES
    if (payload + len > buf.length) break // a torn tail
    const records = buf.readUInt32LE(payload)
    const tagLen = buf.readUInt16LE(payload + 4)
    const tag = buf.subarray(payload + 6, payload + 6 + tagLen).toString('utf8')
    const offsetsAt = payload + 6 + tagLen
    const entriesAt = offsetsAt + 4 * records
    const end = payload + len
    const ids: number[] = []
    for (let r = 0; r < records; r++) {
      const from = entriesAt + buf.readUInt32LE(offsetsAt + 4 * r)
      const to = r + 1 < records ? entriesAt + buf.readUInt32LE(offsetsAt + 4 * (r + 1)) : end
      const entry = decode(buf.subarray(from, to), { useBigInt64: false }) as [unknown, { i: number }]
      ids.push(entry[1].i)
    }
    frames.push({ offset: at, bytes: FRAME_HEAD_BYTES + len, tag, entriesAt, ids })
    at = end
  }
  return { frames, size: buf.length }
}
