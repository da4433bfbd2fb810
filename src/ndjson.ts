/**
 * The options that say how NDJSON lines become records (pino, `toWritable` in text mode), their
 * checks, and the native transcoder they configure (crates/fluent-forward/src/ndjson).
 */
import { NativeNdjson } from '../binding.js'
import type { FluentClient } from './client.js'
import { FluentError, fromNative } from './errors.js'
import { internalsOf } from './internal.js'

/** How NDJSON lines become records: the pino transport, `destination()` and `toWritable()` take these. */
export interface LineOptions {
  /** Tag of every line, or of the lines whose `tagKey` field is missing or not a usable tag. */
  tag?: string
  /** Take the tag from this top-level string field (the field stays in the record). */
  tagKey?: string
  /**
   * This top-level field is the entry's EventTime: epoch milliseconds (pino's default), epoch
   * seconds (`pino.stdTimeFunctions.unixTime`) or an ISO 8601 string (`isoTime`). `false`: entries
   * are stamped when they reach the buffer. A value that is not a time stays in the record.
   */
  timeKey?: string | false
  /** Keep the time field in the record as well. Default `false` (the entry time carries it). */
  keepTime?: boolean
  /** The level field (pino's `level`). */
  levelKey?: string | false
  /**
   * Numeric levels to names, e.g. `{ 30: 'info' }`. `true`: pino's levels (in `pino.transport`, the
   * logger's own levels, custom ones included); `false`: numbers stay numbers.
   */
  levelNames?: boolean | Record<string, string>
  /** The field that carries a line that is not JSON (sent whole, under `tag`). Default `'msg'`. */
  messageKey?: string
}

/** The option names that are line options; the others are the client's. */
export const LINE_OPTION_KEYS = ['tag', 'tagKey', 'timeKey', 'keepTime', 'levelKey', 'levelNames', 'messageKey'] as const

/** pino's default levels (`pino.levels.labels`). */
export const PINO_LEVELS: Record<string, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
}

/** Lines longer than this many times `maxRecordBytes` are skipped (JSON is larger than msgpack). */
const LINE_PER_RECORD = 2
const MAX_LINE = 0xffff_ffff

function bad(message: string): never {
  throw new FluentError('ERR_FLUENT_CONFIG', message)
}

function key(name: string, v: unknown, fallback: string | undefined): string | undefined {
  if (v === undefined) return fallback
  if (v === false) return undefined
  if (typeof v !== 'string' || v === '') bad(`${name} must be a non-empty string${fallback === undefined ? '' : ' or false'}`)
  return v
}

/**
 * Splits an option bag into the line options and the client's options (everything else, checked
 * by the client).
 */
export function splitLineOptions(options: unknown): { line: LineOptions; client: Record<string, unknown> } {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object' || Array.isArray(options)) bad('options must be an object')
  const line: Record<string, unknown> = {}
  const client: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(options as Record<string, unknown>)) {
    if ((LINE_OPTION_KEYS as readonly string[]).includes(k)) line[k] = v
    else client[k] = v
  }
  return { line: line as LineOptions, client }
}

/**
 * A transcoder for `client`. `defaults`: the tag when none is given, whether level names are on
 * when not said, and whether it waits for room (streams) or applies the overflow policy (pino).
 */
export function openNdjson(
  client: FluentClient,
  o: LineOptions,
  defaults: { tag: string; levelNames: boolean; waitForRoom: boolean },
): NativeNdjson {
  const tag = o.tag ?? defaults.tag
  if (typeof tag !== 'string' || tag === '') bad('tag must be a non-empty string')
  if (o.keepTime !== undefined && typeof o.keepTime !== 'boolean') bad('keepTime must be true or false')
  const names = o.levelNames ?? defaults.levelNames
  let table: Record<string, string> = {}
  if (names === true) table = PINO_LEVELS
  else if (typeof names === 'object' && names !== null && !Array.isArray(names)) table = names
  else if (names !== false) bad('levelNames must be true, false or an object of numeric levels to names')
  const levels: number[] = []
  const levelNames: string[] = []
  for (const [level, name] of Object.entries(table)) {
    const n = Number(level)
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) bad(`levelNames: "${level}" is not a numeric level`)
    if (typeof name !== 'string') bad(`levelNames: the name of level ${level} must be a string`)
    levels.push(n)
    levelNames.push(name)
  }
  const { id, limits } = internalsOf(client)
  try {
    return new NativeNdjson(id, {
      tag,
      tagKey: key('tagKey', o.tagKey, undefined),
      timeKey: key('timeKey', o.timeKey, 'time'),
      keepTime: o.keepTime ?? false,
      levelKey: key('levelKey', o.levelKey, 'level'),
      levels,
      levelNames,
      messageKey: key('messageKey', o.messageKey, 'msg') as string,
      maxLineBytes: Math.min(MAX_LINE, limits.maxRecordBytes * LINE_PER_RECORD),
      waitForRoom: defaults.waitForRoom,
    })
  } catch (e) {
    throw fromNative(e, 'ERR_FLUENT_CONFIG')
  }
}
