// Property: any record the encoder takes is exactly what a reference msgpack decoder (msgpackr)
// reads back as the JSON-semantics value, across every msgpack length boundary.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import test from 'ava'
import fc from 'fast-check'
import { Unpackr } from 'msgpackr'
import { encodeRecord, scratch } from '../src/encoder.js'

setFlagsFromString('--expose-gc')
const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'auto' })
const MAX = 64 * 1024 * 1024

function roundTrip(record: unknown): unknown {
  const end = encodeRecord(record, 0, MAX)
  // One object, nothing after it: unpackr.unpackMultiple would show trailing bytes.
  const values = unpackr.unpackMultiple(Buffer.from(scratch().subarray(0, end)))
  if (values === undefined || values.length !== 1) throw new Error(`expected one msgpack object, got ${values?.length}`)
  return normalizeDecoded(values[0])
}

/** Binary comes back as a Buffer or Uint8Array: compare as plain bytes. */
function normalizeDecoded(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bin: Array.from(v) }
  // msgpackr's 'auto' gives 2^53 (exact as a double) as a number; the expectation has the BigInt.
  if (typeof v === 'number' && Math.abs(v) === 2 ** 53) return BigInt(v)
  if (Array.isArray(v)) return v.map(normalizeDecoded)
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) out[k] = normalizeDecoded(x)
    return out
  }
  return v
}

test('a lone surrogate becomes U+FFFD, in keys and in values', (t) => {
  t.deepEqual(roundTrip({ ['k\ud800']: 'v\udfff' }), { 'k\ufffd': 'v\ufffd' })
})

const SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** The documented semantics: JSON's where JSON has an answer, msgpack's where it does better. */
function expected(v: unknown, inArray = false): unknown {
  switch (typeof v) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return inArray ? null : undefined
    case 'string':
      return v.toWellFormed()
    case 'number':
      return Object.is(v, -0) ? 0 : v
    case 'bigint':
      return v >= -SAFE && v <= SAFE ? Number(v) : v
    case 'boolean':
      return v
  }
  if (v === null) return null
  if (Array.isArray(v)) return v.map((x) => expected(x, true))
  if (ArrayBuffer.isView(v)) return { bin: Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) }
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString()
  if (v instanceof Map) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of v) {
      const e = expected(x)
      if (e !== undefined) out[String(k).toWellFormed()] = e
    }
    return out
  }
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v as object)) {
    const e = expected((v as Record<string, unknown>)[k])
    if (e !== undefined) out[k.toWellFormed()] = e
  }
  return out
}

// Values at and around every msgpack width boundary.
const intEdges = [
  0, 1, 31, 32, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1,
].flatMap((n) => [n, -n, n + 1, -n - 1].filter(Number.isSafeInteger))
const bigEdges = [2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, -(2n ** 53n), -(2n ** 63n)]
const lengthEdges = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]

/**
 * Strings by UTF-16 code unit, so lone surrogates appear. As keys they are kept well formed: two keys
 * that differ only in a lone surrogate both become U+FFFD in UTF-8, and the map then carries that key
 * twice (a decoder keeps the last), which a key-by-key comparison cannot express.
 */
const anyString = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xffff })), { maxLength: 40 })
  .map((units) => String.fromCharCode(...units))
const anyKey = anyString.map((k) => k.toWellFormed())
/** ASCII or 2/3-byte strings whose UTF-8 length lands on (or next to) a header boundary. */
const edgeString = fc
  .tuple(fc.constantFrom(31, 32, 255, 256, 65535, 65536), fc.integer({ min: -1, max: 1 }), fc.constantFrom('a', 'é', '€'))
  .map(([bytes, delta, ch]) => {
    const width = Buffer.byteLength(ch)
    return ch.repeat(Math.floor((bytes + delta) / width)) + 'a'.repeat((bytes + delta) % width)
  })
const leaf = fc.oneof(
  fc.constantFrom(...intEdges),
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0.5, 1e300),
  fc.constantFrom(...bigEdges),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  anyString,
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.date({ noInvalidDate: false }),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
)
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 17 }),
    fc.dictionary(fc.oneof(anyKey, fc.constantFrom('a', 'b', 'toString', '__proto__x')), tie('value'), { maxKeys: 17 }),
    fc.uniqueArray(fc.tuple(anyKey, tie('value')), { maxLength: 17, selector: ([k]) => k }).map((pairs) => new Map(pairs)),
  ),
}))
const record = fc.dictionary(anyKey, value, { maxKeys: 20 })

test('random records decode to their JSON-semantics value', (t) => {
  fc.assert(
    fc.property(record, (r) => {
      t.deepEqual(roundTrip(r), expected(r))
    }),
    { numRuns: 1500 },
  )
})

test('strings at every length boundary, in 1-, 2- and 3-byte characters', (t) => {
  fc.assert(
    fc.property(edgeString, (s) => {
      t.deepEqual(roundTrip({ s }), { s })
    }),
    { numRuns: 200 },
  )
})

test('maps and arrays of 15/16/65535/65536 entries, binary of 255/256/65535/65536 bytes', (t) => {
  for (const n of lengthEdges) {
    const arr = Array.from({ length: n }, (_, i) => i % 300)
    const obj: Record<string, number> = {}
    for (let i = 0; i < n; i++) obj[`k${i}`] = i
    const bin = Buffer.alloc(n, 7)
    const got = roundTrip({ arr, obj, bin }) as Record<string, unknown>
    t.deepEqual(got.arr, arr, `array ${n}`)
    t.deepEqual(got.obj, obj, `map ${n}`)
    t.deepEqual(got.bin, { bin: Array.from(bin) }, `bin ${n}`)
    // The top-level map itself at the boundary.
    t.deepEqual(roundTrip(obj), obj, `top-level map ${n}`)
  }
})

test('nesting to the limit is exact, one level past it is ERR_FLUENT_ENCODE', (t) => {
  const nest = (n: number): Record<string, unknown> => {
    let v: Record<string, unknown> = { leaf: true }
    for (let i = 0; i < n; i++) v = i % 2 === 0 ? { a: [v] } : { o: v }
    return v
  }
  const ok = nest(66) // 66 levels of object/array pairs: 99 below the record
  t.deepEqual(roundTrip(ok), expected(ok))
  const err = t.throws(() => roundTrip(nest(70))) as { code?: string }
  t.is(err.code, 'ERR_FLUENT_ENCODE')
})

// Strings that recur at the same place in consecutive records are copied from the encoder's string
// slots instead of encoded again: these records draw their keys and values from a small pool, so the
// same slot sees the same string, an equal copy of it, or a different string that looks alike (same
// length, first, middle and last character; ASCII against non-ASCII of the same length).
const lookAlikes = ['a', 'abcdefghijkl', 'abcdefghijklm', 'abXdefghijklm', 'abcdefghijklé', 'a'.repeat(31), 'a'.repeat(32), `${'a'.repeat(30)}b`, 'x'.repeat(61), 'x'.repeat(62), 'x'.repeat(63), 'ключ', '', '€€€€€€€€€€€€€']
/** The same characters as a string of its own, as a slice of a larger one, and as a concatenation. */
const poolString = fc.tuple(fc.constantFrom(...lookAlikes), fc.constantFrom('same', 'copy', 'slice', 'cons')).map(([s, how]) => {
  if (how === 'copy') return Buffer.from(s).toString()
  if (how === 'slice') return `..${s}..`.slice(2, 2 + s.length)
  if (how === 'cons') return s.slice(0, s.length >> 1) + s.slice(s.length >> 1)
  return s
})
const poolRecord = fc.array(fc.tuple(poolString, fc.oneof(poolString, fc.array(poolString, { maxLength: 3 }), fc.integer())), { maxLength: 8 }).map((pairs) => {
  const r: Record<string, unknown> = {}
  for (const [k, v] of pairs) r[k] = v
  return r
})

test('strings recurring at the same place in consecutive records come out exact', (t) => {
  fc.assert(
    fc.property(fc.array(poolRecord, { minLength: 2, maxLength: 30 }), (records) => {
      for (const r of records) t.deepEqual(roundTrip(r), expected(r))
    }),
    { numRuns: 400 },
  )
})

test('a slot does not keep a large string alive through a short slice of it', (t) => {
  const gc = runInNewContext('gc') as () => void
  gc()
  const before = process.memoryUsage().heapUsed
  let big: string | undefined = 'q'.repeat(64 << 20)
  // A slice long enough to be a V8 SlicedString (a view into `big`), in the same place three times.
  let part: string | undefined = big.slice(1000, 1040)
  for (let i = 0; i < 3; i++) t.deepEqual(roundTrip({ part }), { part: 'q'.repeat(40) })
  big = undefined
  part = undefined
  gc()
  const grown = process.memoryUsage().heapUsed - before
  t.true(grown < 16 << 20, `the heap kept ${(grown / 1048576).toFixed(1)} MiB after the 64 MiB string went`)
})
