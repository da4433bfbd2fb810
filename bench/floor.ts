/**
 * The floor under any encoder, for bench/crossing.ts: the msgpack of exactly the small and medium
 * records of src/cli/shapes.ts, written by hand. Keys are pre-encoded and copied a word per store, every
 * value's type and width is assumed, strings are assumed ASCII, nothing is checked; a string that is
 * the same as last time at its place is copied from its bytes, as the encoder's slots do. It is not
 * an encoder (any other record comes out wrong); it shows what producing these bytes costs on this
 * machine when nothing is decided at run time. `checkFloors` compares its bytes with encodeRecord's
 * first, so both write the same record.
 */
import { encodeRecord, encodeString, scratch, toWords } from '../src/encoder.js'
import type { Words } from '../src/encoder.js'
import type { Shape } from '../src/cli/shapes.js'

const buf = Buffer.allocUnsafeSlow(1 << 16)
const dv = new DataView(buf.buffer, buf.byteOffset, buf.length)
let pos = 0

function writeKey(k: Words): void {
  const p = pos
  const w = k.words
  for (let i = 0; i < k.length; i += 4) dv.setInt32(p + i, w[i >>> 2])
  pos = p + k.length
}

/** Per string position (small: 0-2, medium: 3-20): the last string written there and its bytes, as words. */
const SLOTS = 32
const lastString: Array<string | undefined> = new Array<string | undefined>(SLOTS).fill(undefined)
const lastLength = new Uint8Array(SLOTS)
const lastWords = new Int32Array(SLOTS * 16)

/**
 * The string at position k: copied as words when it is the one written there last time (as the
 * encoder's recurring-string slots do; this record's values recur), else its characters, four per
 * store, and remembered. ASCII and at most 60 characters, assumed.
 */
function ascii(s: string, k: number): void {
  const p = pos
  const w = k * 16
  if (lastString[k] === s) {
    const n = lastLength[k]
    for (let i = 0; i < n; i += 4) dv.setInt32(p + i, lastWords[w + (i >>> 2)])
    pos = p + n
    return
  }
  const n = s.length
  let q = p
  if (n < 32) buf[q++] = 0xa0 | n
  else {
    buf[q++] = 0xd9
    buf[q++] = n
  }
  let i = 0
  for (; i + 4 <= n; i += 4, q += 4) {
    dv.setUint32(q, (s.charCodeAt(i) << 24) | (s.charCodeAt(i + 1) << 16) | (s.charCodeAt(i + 2) << 8) | s.charCodeAt(i + 3))
  }
  for (; i < n; i++) buf[q++] = s.charCodeAt(i)
  const len = q - p
  for (let j = 0; j < len; j += 4) lastWords[w + (j >>> 2)] = dv.getInt32(p + j)
  lastLength[k] = len
  lastString[k] = s
  pos = q
}

function uint(v: number): void {
  const p = pos
  if (v < 0x80) {
    buf[p] = v
    pos = p + 1
  } else if (v < 0x100) {
    dv.setUint16(p, 0xcc00 | v)
    pos = p + 2
  } else if (v < 0x10000) {
    buf[p] = 0xcd
    dv.setUint16(p + 1, v)
    pos = p + 3
  } else {
    buf[p] = 0xce
    dv.setUint32(p + 1, v)
    pos = p + 5
  }
}

function float(v: number): void {
  buf[pos] = 0xcb
  dv.setFloat64(pos + 1, v)
  pos += 9
}

function bool(v: boolean): void {
  buf[pos++] = v ? 0xc3 : 0xc2
}

const K = Object.fromEntries(
  [
    'level', 'msg', 'n', 'user', 'ok', 'service', 'host', 'region', 'pid', 'status', 'method', 'path', 'latencyMs', 'bytes',
    'requestId', 'ip', 'ua', 'cached', 'ctx', 'tenant', 'plan', 'shard', 'traceId', 'tags',
  ].map((k) => [k, toWords(encodeString(k))]),
) as Record<string, Words>

// The records as src/cli/shapes.ts SHAPES builds them; `any` because the floor assumes, it does not check.
function small(o: any): number {
  pos = 0
  buf[pos++] = 0x85
  writeKey(K.level)
  ascii(o.level, 0)
  writeKey(K.msg)
  ascii(o.msg, 1)
  writeKey(K.n)
  uint(o.n)
  writeKey(K.user)
  ascii(o.user, 2)
  writeKey(K.ok)
  bool(o.ok)
  return pos
}

function medium(o: any): number {
  pos = 0
  buf[pos++] = 0xde
  dv.setUint16(pos, 20)
  pos += 2
  writeKey(K.level)
  ascii(o.level, 3)
  writeKey(K.msg)
  ascii(o.msg, 4)
  writeKey(K.n)
  uint(o.n)
  writeKey(K.user)
  ascii(o.user, 5)
  writeKey(K.ok)
  bool(o.ok)
  writeKey(K.service)
  ascii(o.service, 6)
  writeKey(K.host)
  ascii(o.host, 7)
  writeKey(K.region)
  ascii(o.region, 8)
  writeKey(K.pid)
  uint(o.pid)
  writeKey(K.status)
  uint(o.status)
  writeKey(K.method)
  ascii(o.method, 9)
  writeKey(K.path)
  ascii(o.path, 10)
  writeKey(K.latencyMs)
  float(o.latencyMs)
  writeKey(K.bytes)
  uint(o.bytes)
  writeKey(K.requestId)
  ascii(o.requestId, 11)
  writeKey(K.ip)
  ascii(o.ip, 12)
  writeKey(K.ua)
  ascii(o.ua, 13)
  writeKey(K.cached)
  bool(o.cached)
  writeKey(K.ctx)
  const c = o.ctx
  buf[pos++] = 0x84
  writeKey(K.tenant)
  ascii(c.tenant, 14)
  writeKey(K.plan)
  ascii(c.plan, 15)
  writeKey(K.shard)
  uint(c.shard)
  writeKey(K.traceId)
  ascii(c.traceId, 16)
  writeKey(K.tags)
  const t = o.tags
  buf[pos++] = 0x94
  ascii(t[0], 17)
  ascii(t[1], 18)
  ascii(t[2], 19)
  ascii(t[3], 20)
  return pos
}

/** The hand-written writers, by shape; each returns the end offset in its own buffer. */
export const FLOORS: Partial<Record<Shape, (record: object) => number>> = { small, medium }

/**
 * Throws unless every floor writes, byte for byte, what encodeRecord writes for the same records
 * (record numbers across every integer width `n` takes). Uses encodeRecord's scratch buffer at
 * offset 0: call it before any client stages records.
 */
export function checkFloors(makers: Record<Shape, (i: number) => object>): void {
  for (const [shape, floor] of Object.entries(FLOORS) as Array<[Shape, (r: object) => number]>) {
    for (const i of [0, 1, 127, 128, 255, 256, 65535, 65536, 1_000_000]) {
      const record = makers[shape](i)
      const end = encodeRecord(record, 0, 1 << 20)
      const want = Buffer.from(scratch().subarray(0, end))
      const got = buf.subarray(0, floor(record))
      if (!got.equals(want)) throw new Error(`the hand-written ${shape} floor differs from encodeRecord for record ${i}`)
    }
  }
}
