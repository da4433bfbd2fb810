/**
 * Trace context for the leveled logger (`client.logger({ traceContext: true })`): the ids of the
 * span active in `@opentelemetry/api`'s context, as the fields OpenTelemetry's log correlation uses
 * (`trace_id`, `span_id`, `trace_flags`, spelled as @opentelemetry/instrumentation-pino and
 * -winston write them, so logs from every route join the same traces).
 *
 * `@opentelemetry/api` is an optional peer dependency, required here only when a logger asks for
 * trace context: a program that never does never loads it. Using the application's copy matters:
 * the API keeps its context manager and tracer provider in a global of its major version, so the
 * spans its instrumentations start are the ones seen here.
 */
import { encodeString, toWords } from './encoder.js'
import type { TraceKeys } from './encoder.js'
import { FluentError } from './errors.js'

/** `traceContext` of `client.logger()`: `true` for the default keys, or the keys to write. */
export type TraceContextOption =
  | boolean
  | {
      /** The record key of the trace id (32 hex digits; default 'trace_id'). */
      traceIdKey?: string
      /** The record key of the span id (16 hex digits; default 'span_id'). */
      spanIdKey?: string
      /** The record key of the trace flags (two hex digits, '01' when sampled; default 'trace_flags'). */
      traceFlagsKey?: string
    }

/** The subset of `@opentelemetry/api` this reads (a structural type: the package is optional). */
interface SpanContext {
  traceId: string
  spanId: string
  traceFlags: number
}
interface OtelApi {
  context: { active(): unknown }
  trace: { getSpan(context: unknown): { spanContext(): SpanContext } | undefined }
  isSpanContextValid(spanContext: SpanContext): boolean
}

/** Reads the active span's ids; one per logger tree (children share it). */
export interface TraceReader {
  /** The record keys, encoded once. */
  readonly keys: TraceKeys
  /** The active span's context if one is active and valid (not all-zero ids), else undefined. */
  current(): SpanContext | undefined
}

const KEY_OPTIONS = new Set(['traceIdKey', 'spanIdKey', 'traceFlagsKey'])

let api: OtelApi | undefined

function loadApi(): OtelApi {
  if (api !== undefined) return api
  try {
    // Lazily, and through require: an ESM `import` of an optional package would fail at load.
    api = require('@opentelemetry/api') as OtelApi
  } catch (e) {
    const code = (e as { code?: unknown })?.code
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new FluentError('ERR_FLUENT_CONFIG', 'logger() traceContext needs @opentelemetry/api (npm install @opentelemetry/api), which is not installed', {
        cause: e,
      })
    }
    throw e
  }
  return api
}

/** Two hex digits, as the OpenTelemetry instrumentations write trace flags ('01': sampled). */
const FLAGS: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** `traceFlags` as the two hex digits the instrumentations write. */
export function flagsHex(traceFlags: number): string {
  return FLAGS[traceFlags & 255]
}

/**
 * Checks the option; returns undefined when off. Throws ERR_FLUENT_CONFIG for a bad option, for
 * keys that collide with each other or with the level and message keys (the record would lose one),
 * and when `@opentelemetry/api` cannot be loaded.
 */
export function traceReader(option: unknown, levelKey: string, messageKey: string): TraceReader | undefined {
  if (option === undefined || option === false) return undefined
  let keys = { traceIdKey: 'trace_id', spanIdKey: 'span_id', traceFlagsKey: 'trace_flags' }
  if (option !== true) {
    if (typeof option !== 'object' || option === null || Array.isArray(option)) {
      throw new FluentError('ERR_FLUENT_CONFIG', `logger() traceContext must be true, false or { traceIdKey, spanIdKey, traceFlagsKey }, got ${String(option)}`)
    }
    for (const [name, value] of Object.entries(option)) {
      if (!KEY_OPTIONS.has(name)) throw new FluentError('ERR_FLUENT_CONFIG', `unknown logger() traceContext option "${name}"`)
      if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
        throw new FluentError('ERR_FLUENT_CONFIG', `logger() traceContext.${name} must be a non-empty string`)
      }
    }
    keys = { ...keys, ...(Object.fromEntries(Object.entries(option).filter(([, v]) => v !== undefined)) as Partial<typeof keys>) }
  }
  const { traceIdKey, spanIdKey, traceFlagsKey } = keys
  if (new Set([traceIdKey, spanIdKey, traceFlagsKey, levelKey, messageKey]).size !== 5) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'logger() traceContext keys must differ from each other and from levelKey and messageKey')
  }
  const { context, trace, isSpanContextValid } = loadApi()
  // The last context seen and its answer. Contexts are immutable, so the same context object holds
  // the same span: records logged in one context (outside any span: the root context, every time)
  // skip the span lookup. What remains is the context manager's own lookup, the floor that
  // bench/trace.ts measures beside these figures.
  let lastContext: unknown
  let lastAnswer: SpanContext | undefined
  // The last span context checked: its records skip isSpanContextValid's two regular expressions.
  let lastTraceId = ''
  let lastSpanId = ''
  let lastValid = false
  return {
    keys: { names: [traceIdKey, spanIdKey, traceFlagsKey], words: [keyWords(traceIdKey), keyWords(spanIdKey), keyWords(traceFlagsKey)] },
    current() {
      const active = context.active()
      if (active === lastContext) return lastAnswer
      const sc = trace.getSpan(active)?.spanContext()
      let answer: SpanContext | undefined
      if (sc !== undefined) {
        if (sc.traceId !== lastTraceId || sc.spanId !== lastSpanId) {
          lastValid = isSpanContextValid(sc)
          lastTraceId = sc.traceId
          lastSpanId = sc.spanId
        }
        answer = lastValid ? sc : undefined
      }
      lastContext = active
      lastAnswer = answer
      return answer
    },
  }
}

const keyWords = (key: string) => toWords(encodeString(key))
