/**
 * The leveled logger's records: the level, message, bound fields (entries.ts) and trace ids are
 * encoded once and copied into every record; only the call's own fields are encoded per call.
 */
import * as entries from './entries.js'
import * as state from './state.js'
import * as strings from './strings.js'
import * as values from './values.js'

// Local bindings rather than named imports: in tsc's CommonJS output a named import is read off the
// other module's exports object at every use (measured in ../encoder.ts's opening comment).
const { boundIndex, NO_ENTRIES } = entries
const { begin, ensure, out, tooLarge } = state
const { writeString } = strings
const { finishMap, startMap, writeValue } = values

const hasOwn = Object.prototype.hasOwnProperty

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
 * Copies pre-encoded bytes a word per store, as strings.ts's `writeSlot` does (a profile of the logger
 * had the byte loop this replaced at 6 % of the thread). The last store may write up to 3 bytes past
 * the end: room is ensured, and whatever is written next overwrites them.
 */
function writeWords(w: Words): void {
  const n = w.length
  ensure(n + 3)
  const v = out.dv
  const words = w.words
  const p = out.pos
  for (let i = 0; i < n; i += 4) v.setInt32(p + i, words[i >>> 2])
  out.pos = p + n
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
 * message (when given) replace all. One object serves every call: `encodeSpliced` copies it into
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

/** One trace entry (key encoded once, the id as a string), unless the call's fields have that key; returns the entries written. */
function traceEntry(keys: TraceKeys, k: 0 | 1 | 2, value: string, fields: object | undefined): number {
  if (fields !== undefined && hasOwn.call(fields, keys.names[k])) return 0
  writeWords(keys.words[k])
  writeString(value)
  return 1
}

/** `encodeRecord` for the `spliced` record: a separate entry, so that neither path's inlining crowds the other's. */
export function encodeSpliced(start: number, maxBytes: number): number {
  begin(start, maxBytes)
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
      out.buf.set(bound.bytes, out.pos)
      out.pos += n
      count += bound.count
    } else {
      for (let e = 0; e < bound.count; e++) {
        if (skip.has(e)) continue
        const from = bound.starts[e]
        const n = bound.starts[e + 1] - from
        ensure(n)
        bound.bytes.copy(out.buf, out.pos, from, from + n)
        out.pos += n
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
  const end = out.pos
  if (end - start > maxBytes) tooLarge(end - start)
  return end
}
