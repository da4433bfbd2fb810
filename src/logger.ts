/**
 * The leveled logger (`client.logger(...)`), after zap's design: a core (the client's stage, a tag,
 * the level check) and loggers that carry context fields already encoded. `child(fields)` encodes
 * its fields to msgpack once; every record then copies those bytes instead of walking the objects
 * again (see `spliced` in encoder.ts). A disabled level returns before it reads its arguments.
 *
 * Records: `{ [levelKey]: 'info', [messageKey]: msg, ...bound fields, ...call fields }`, no key twice:
 * a call's field replaces a bound one of the same key (set to undefined, it removes it), and the
 * level and message replace both. The record time is the call's, as `emit` stamps it.
 *
 * With `traceContext`, the active OpenTelemetry span's ids (src/trace.ts) are written after the bound
 * fields (replacing any of the same key) and before the call's (a call's field replaces them); the
 * keys are encoded once, the ids written as strings: nothing per span is allocated or cached.
 */
import { encodeEntries, encodeString, NO_ENTRIES, spliced, toWords } from './encoder.js'
import type { Entries, Words } from './encoder.js'
import { FluentError } from './errors.js'
import { flagsHex, traceReader } from './trace.js'
import type { TraceContextOption, TraceReader } from './trace.js'

/** Level names, least severe first; `silent` turns a logger off. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

/** Options of `client.logger()`. */
export interface LoggerOptions {
  /** The Fluentd tag of every record. */
  tag: string
  /** The least severe level written (default 'info'). */
  level?: LogLevel
  /** Context fields bound to every record of this logger (encoded once, now). */
  fields?: object
  /** The record key of the message (default 'msg'). */
  messageKey?: string
  /** The record key of the level name (default 'level'). */
  levelKey?: string
  /**
   * Adds the active OpenTelemetry span's `trace_id`, `span_id` and `trace_flags` to every record
   * logged while one is (nothing when none is); children inherit it. Needs `@opentelemetry/api`
   * (an optional peer dependency, loaded only then). An object renames the keys.
   */
  traceContext?: TraceContextOption
}

const SEVERITY: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }
const OPTION_KEYS = new Set(['tag', 'level', 'fields', 'messageKey', 'levelKey', 'traceContext'])

/** What loggers of one `client.logger()` call share: where records go and how they are keyed. */
export interface LoggerCore {
  /** Stages the `spliced` record under the tag (FluentClient's own path); false if refused. */
  stage(): boolean
  /** Reports an error on the client (its 'error' event, or the unhandled count). */
  report(err: FluentError): void
  /** The client's `maxRecordBytes`. */
  readonly maxRecordBytes: number
  /** The record key of the level name. */
  readonly levelKey: string
  /** The record key of the message. */
  readonly messageKey: string
  /** The active span's ids, when the logger was made with `traceContext`. */
  readonly trace?: TraceReader
}

/** What the core's keys and level names encode to, made once per `client.logger()`. */
interface Encoded {
  /** Per level: the level entry alone, for a record without a message. */
  readonly levelEntries: Readonly<Record<LogLevel, Words>>
  /** Per level: the level entry and the message key, for a record with one. */
  readonly levelHeads: Readonly<Record<LogLevel, Words>>
}

type Core = LoggerCore & Encoded

/**
 * What each pair of keys encodes to, shared by every core with those keys: per-core copies are a
 * dozen small buffers apiece, and with thousands of root loggers (one per tag) each record's copy of
 * its level entry was a cache miss. Bounded: one entry per distinct pair ever used, and only pairs
 * up to the cap are kept (the rest get their own copy, as before).
 */
const encodedKeys = new Map<string, Encoded>()
const MAX_SHARED_KEYS = 64

function encodedFor(levelKey: string, messageKey: string): Encoded {
  // JSON of the pair: no separator character could be confused with a key's own.
  const id = JSON.stringify([levelKey, messageKey])
  let e = encodedKeys.get(id)
  if (e !== undefined) return e
  const levelEntries = {} as Record<LogLevel, Words>
  const levelHeads = {} as Record<LogLevel, Words>
  const messageKeyBytes = encodeString(messageKey)
  for (const name of Object.keys(SEVERITY) as LogLevel[]) {
    const entry = Buffer.concat([encodeString(levelKey), encodeString(name)])
    levelEntries[name] = toWords(entry)
    levelHeads[name] = toWords(Buffer.concat([entry, messageKeyBytes]))
  }
  e = { levelEntries, levelHeads }
  if (encodedKeys.size < MAX_SHARED_KEYS) encodedKeys.set(id, e)
  return e
}

function encodeCore(core: LoggerCore): Core {
  const { levelEntries, levelHeads } = encodedFor(core.levelKey, core.messageKey)
  // One literal with every field, not `{ ...core, ... }`: V8 gave each spread copy a map of its own,
  // so with a few root loggers `#write`'s loads of the core went megamorphic (100 root loggers on one
  // client cost 1.8x one logger per record, 10,000 cost 8x).
  return {
    stage: core.stage,
    report: core.report,
    maxRecordBytes: core.maxRecordBytes,
    levelKey: core.levelKey,
    messageKey: core.messageKey,
    trace: core.trace,
    levelEntries,
    levelHeads,
  }
}

function severityOf(level: unknown, what: string): number {
  const n = typeof level === 'string' && Object.hasOwn(SEVERITY, level) ? SEVERITY[level as LogLevel] : undefined
  if (n === undefined) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${what} must be one of ${Object.keys(SEVERITY).join(', ')}, got ${String(level)}`)
  }
  return n
}

function checkFields(fields: unknown, what: string): object {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new FluentError('ERR_FLUENT_INVALID_RECORD', `${what} must be an object of fields, got ${Array.isArray(fields) ? 'an array' : String(fields)}`)
  }
  return fields
}

function bind(fields: object, base: Entries, maxBytes: number): Entries {
  try {
    return encodeEntries(fields, base, maxBytes)
  } catch (e) {
    if (e instanceof FluentError) throw e
    throw new FluentError('ERR_FLUENT_ENCODE', `reading the bound fields threw: ${(e as Error)?.message ?? String(e)}`, { cause: e })
  }
}

/**
 * Checks `client.logger()` options; returns the keys, the level and the trace reader (the tag is
 * checked by the client). `traceContext` loads `@opentelemetry/api` here, so a missing one is an
 * ERR_FLUENT_CONFIG from `logger()`, not a surprise at the first record.
 */
export function checkLoggerOptions(options: unknown): { level: LogLevel; levelKey: string; messageKey: string; trace: TraceReader | undefined } {
  if (typeof options !== 'object' || options === null) {
    throw new FluentError('ERR_FLUENT_CONFIG', `logger() options must be an object with a tag, got ${String(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new FluentError('ERR_FLUENT_CONFIG', `unknown logger() option "${key}"`)
  }
  const o = options as LoggerOptions
  const level = o.level ?? 'info'
  severityOf(level, 'logger() level')
  const key = (v: unknown, name: string, fallback: string): string => {
    if (v === undefined) return fallback
    if (typeof v !== 'string' || v.length === 0) throw new FluentError('ERR_FLUENT_CONFIG', `logger() ${name} must be a non-empty string`)
    return v
  }
  const levelKey = key(o.levelKey, 'levelKey', 'level')
  const messageKey = key(o.messageKey, 'messageKey', 'msg')
  if (levelKey === messageKey) throw new FluentError('ERR_FLUENT_CONFIG', 'logger() levelKey and messageKey must differ')
  return { level, levelKey, messageKey, trace: traceReader(o.traceContext, levelKey, messageKey) }
}

/** The root logger of `client.logger()`: options checked, `fields` encoded once. */
export function rootLogger(core: LoggerCore, level: LogLevel, fields: unknown): Logger {
  const bound = fields === undefined ? NO_ENTRIES : bind(checkFields(fields, 'logger() fields'), NO_ENTRIES, core.maxRecordBytes)
  return new Logger(encodeCore(core), level, bound)
}

/**
 * A level method: returns whether the record was accepted into the buffer (false when the level is
 * disabled or the record refused). Methods are bound: `const { info } = logger` works.
 */
export type LogMethod = (msg?: unknown, fields?: object) => boolean

/** What a disabled level's method is: it returns before anything else, as pino's do. */
const disabled: LogMethod = () => false

/** A leveled logger, from `client.logger()` or `logger.child()`. */
export class Logger {
  // The level methods are own properties, set by the level: a disabled one is `disabled` itself, so
  // a call below the level costs a call to an empty function and never reads its arguments.
  /** Logs at `trace`: `(msg?, fields?)`, or `(error, fields?)`. */
  trace: LogMethod = disabled
  /** Logs at `debug`. */
  debug: LogMethod = disabled
  /** Logs at `info`. */
  info: LogMethod = disabled
  /** Logs at `warn`. */
  warn: LogMethod = disabled
  /** Logs at `error`. */
  error: LogMethod = disabled
  /** Logs at `fatal`. */
  fatal: LogMethod = disabled
  readonly #core: Core
  readonly #bound: Entries
  /** The least severity written. */
  #min: number
  #level: LogLevel
  readonly #enabled: Readonly<Record<Exclude<LogLevel, 'silent'>, LogMethod>>

  /** @internal Use `client.logger()` or `logger.child()`. */
  constructor(core: Core, level: LogLevel, bound: Entries) {
    this.#core = core
    this.#min = severityOf(level, 'level')
    this.#level = level
    this.#bound = bound
    this.#enabled = {
      trace: (msg, fields) => this.#write('trace', msg, fields),
      debug: (msg, fields) => this.#write('debug', msg, fields),
      info: (msg, fields) => this.#write('info', msg, fields),
      warn: (msg, fields) => this.#write('warn', msg, fields),
      error: (msg, fields) => this.#write('error', msg, fields),
      fatal: (msg, fields) => this.#write('fatal', msg, fields),
    }
    this.#apply()
  }

  #apply(): void {
    const min = this.#min
    const on = this.#enabled
    this.trace = min <= 10 ? on.trace : disabled
    this.debug = min <= 20 ? on.debug : disabled
    this.info = min <= 30 ? on.info : disabled
    this.warn = min <= 40 ? on.warn : disabled
    this.error = min <= 50 ? on.error : disabled
    this.fatal = min <= 60 ? on.fatal : disabled
  }

  /** The least severe level written; setting it throws ERR_FLUENT_CONFIG for an unknown name. */
  get level(): LogLevel {
    return this.#level
  }

  /** Throws ERR_FLUENT_CONFIG for an unknown level name. */
  set level(level: LogLevel) {
    this.#min = severityOf(level, 'level')
    this.#level = level
    this.#apply()
  }

  /** Whether a record at `level` would be written. */
  isLevelEnabled(level: LogLevel): boolean {
    return severityOf(level, 'level') >= this.#min && level !== 'silent'
  }

  /**
   * A logger whose records carry `fields` too (after this one's bound fields, replacing any of the
   * same key), encoded once, now: getters and `toJSON` run here, not per record. It starts at this
   * logger's level and is set apart from then on. Throws FluentError for fields that cannot be encoded.
   */
  child(fields: object): Logger {
    const bound = bind(checkFields(fields, 'child() fields'), this.#bound, this.#core.maxRecordBytes)
    return new Logger(this.#core, this.#level, bound)
  }

  /**
   * Never throws for what a record holds: a record that cannot be encoded is reported as an
   * ERR_FLUENT_ENCODE 'error' event on the client and not sent. (ERR_FLUENT_QUEUE_FULL under
   * `overflow: 'error'` is thrown, as emit throws it: the caller chose that policy.)
   */
  #write(level: LogLevel, msg: unknown, fields: object | undefined): boolean {
    const core = this.#core
    let message = msg
    let extra = fields
    // An Error as the message: its message is the record's, the Error itself goes to `err`.
    if (msg instanceof Error) {
      message = msg.message
      extra = fields === undefined ? { err: msg } : { err: msg, ...fields }
    } else if (fields instanceof Error) {
      extra = { err: fields }
    } else if (fields !== undefined && (typeof fields !== 'object' || fields === null || Array.isArray(fields))) {
      core.report(new FluentError('ERR_FLUENT_INVALID_RECORD', `${level}(): fields must be an object, got ${Array.isArray(fields) ? 'an array' : typeof fields}`))
      return false
    }
    // Read before `spliced` is filled: the context manager is code of someone else's.
    const trace = core.trace
    const sc = trace?.current()
    spliced.levelKey = core.levelKey
    spliced.levelEntry = core.levelEntries[level]
    spliced.messageKey = core.messageKey
    spliced.levelHead = core.levelHeads[level]
    spliced.message = message
    spliced.bound = this.#bound
    if (trace !== undefined && sc !== undefined) {
      spliced.traceId = sc.traceId
      spliced.spanId = sc.spanId
      spliced.traceFlags = flagsHex(sc.traceFlags)
      spliced.traceKeys = trace.keys
    }
    spliced.fields = extra
    try {
      return core.stage()
    } catch (e) {
      if (e instanceof FluentError && e.code === 'ERR_FLUENT_QUEUE_FULL') throw e
      core.report(e instanceof FluentError ? e : new FluentError('ERR_FLUENT_ENCODE', String(e), { cause: e }))
      return false
    } finally {
      spliced.fields = undefined
      spliced.message = undefined
      spliced.traceId = undefined
    }
  }
}
