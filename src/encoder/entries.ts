/**
 * A logger's bound fields, encoded once as msgpack entries (key and value) that every record of the
 * logger copies (spliced.ts). Encoded when a child logger is made, not per record.
 */
import * as state from './state.js'
import * as strings from './strings.js'
import * as values from './values.js'

// Local bindings rather than named imports: in tsc's CommonJS output a named import is read off the
// other module's exports object at every use (measured in ../encoder.ts's opening comment).
const { enterSide, leaveSide, out, tooLarge } = state
const { writeString } = strings
const { writeValue } = values

const hasOwn = Object.prototype.hasOwnProperty

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
export function boundIndex(bound: Entries, key: string): number | undefined {
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
    out.pos = 0
    out.recordStart = 0
    out.limit = maxBytes
    const own: Array<[string, number, number]> = []
    for (const key in fields) {
      if (!hasOwn.call(fields, key)) continue
      const value = (fields as Record<string, unknown>)[key]
      if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue
      const from = out.pos
      writeString(key)
      writeValue(value, 1)
      if (out.pos > maxBytes) tooLarge(out.pos)
      own.push([key, from, out.pos])
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
      if (last.get(key) === i) add(key, Buffer.from(out.buf.subarray(from, to)))
    })
    starts.push(at)
    const sieve = new Uint8Array(256)
    for (const key of index.keys()) sieve[sieveSlot(key)] = 1
    return { bytes: Buffer.concat(parts, at), starts, index, sieve, count: index.size }
  } finally {
    leaveSide()
  }
}
