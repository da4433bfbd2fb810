/**
 * Option checking, driven by the native option table (`optionSpecs()`, crates/fluent-forward/src/
 * options.rs): names, types, ranges and defaults exist once, in Rust. This file only knows how to
 * read an option bag against that table and say clearly what is wrong.
 */
import { optionSpecs } from '../binding.js'
import type { JsOptionSpec, NativeOptions } from '../binding.js'
import { hostname } from 'node:os'
import { FluentError } from './errors.js'

let warnedUnverified = false

/** `tls.rejectUnauthorized: false` works, and says once per process what it gives up. */
function warnUnverifiedOnce(): void {
  if (warnedUnverified) return
  warnedUnverified = true
  process.emitWarning(
    "fluent-native: tls.rejectUnauthorized is false: the server's certificate is not verified, so anyone on the path can read or change the logs",
    { code: 'FLUENT_TLS_UNVERIFIED' },
  )
}

const SPECS = new Map<string, JsOptionSpec>(optionSpecs().map((s) => [s.name, s]))

/** Levenshtein distance, for "did you mean" on a mistyped option name. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1))
      prev = keep
    }
  }
  return row[b.length]
}

/** The candidate closest to `name` (case-insensitive edit distance), for "did you mean". */
export function nearest(name: string, candidates: readonly string[]): string {
  let best = candidates[0]
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = distance(name, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  if (v === null || typeof v !== 'object') return String(v)
  return Array.isArray(v) ? 'an array' : 'an object'
}

/** Checks one value against its spec; returns it (`undefined` when unset), PEM as a Buffer. */
export function checkValue(name: string, v: unknown): unknown {
  const spec = SPECS.get(name)
  if (spec === undefined) throw new FluentError('ERR_FLUENT_INTERNAL', `no spec for option ${name}`)
  if (v === undefined) return undefined
  const bad = (what: string): never => {
    // A secret is never echoed, not even a wrong one: it may be the right one in the wrong place.
    const got = spec.secret ? `a ${v === null ? 'null' : typeof v} (value not shown)` : show(v)
    throw new FluentError('ERR_FLUENT_CONFIG', `${name} must be ${what}, got ${got}`)
  }
  switch (spec.kind) {
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < (spec.min as number) || v > (spec.max as number)) {
        bad(`an integer in ${spec.min}..${spec.max}`)
      }
      return v
    case 'boolean':
      if (typeof v !== 'boolean') bad('true or false')
      return v
    case 'string':
      if (typeof v !== 'string' || v === '') bad('a non-empty string')
      return v
    case 'pem':
      if (typeof v === 'string' && v !== '') return Buffer.from(v)
      if (v instanceof Uint8Array && v.length > 0) return Buffer.from(v)
      return bad('PEM text, as a string or a Buffer')
    default:
      if (typeof v !== 'string' || !(spec.values as string[]).includes(v)) {
        bad(`one of ${(spec.values as string[]).map((x) => JSON.stringify(x)).join(', ')}`)
      }
      return v
  }
}

/** The default of an option, from the native table. */
export function defaultOf(name: string): number {
  return SPECS.get(name)?.defaultNumber as number
}

/**
 * Checks a method's option bag (`flush(options)`, `close(options)`): only the keys that method
 * takes (`<method>.<key>` in the table), each in range; returns the values with defaults applied.
 */
export function checkCallOptions(method: string, options: unknown): Record<string, number> {
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${method}() options must be an object, got ${show(options)}`)
  }
  const keys = [...SPECS.keys()].filter((k) => k.startsWith(`${method}.`)).map((k) => k.slice(method.length + 1))
  const out: Record<string, number> = {}
  for (const key of Object.keys(options)) {
    if (!keys.includes(key)) {
      throw new FluentError('ERR_FLUENT_CONFIG', `unknown ${method}() option "${key}" (did you mean "${nearest(key, keys)}"?)`)
    }
  }
  for (const key of keys) {
    const v = checkValue(`${method}.${key}`, (options as Record<string, unknown>)[key])
    out[key] = (v as number | undefined) ?? defaultOf(`${method}.${key}`)
  }
  return out
}

/** Methods whose option bags are in the table as `<method>.<key>`. */
const CALLS = new Set(['flush', 'close'])
/** Option objects (`tls`, `security`, `breaker`): their keys are in the table as `<group>.<key>`. */
const GROUPS = new Set(
  [...SPECS.keys()]
    .filter((k) => k.includes('.'))
    .map((k) => k.split('.')[0])
    .filter((g) => !CALLS.has(g) && g !== 'servers'),
)

/** Checks one option object against its `<group>.<key>` rows; returns it with checked values. */
function checkGroup(group: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (group === 'tls' && value === true) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const also = group === 'tls' ? ' (or true: TLS with the default roots)' : ''
    throw new FluentError('ERR_FLUENT_CONFIG', `${group} must be an object${also}, got ${show(value)}`)
  }
  const keys = [...SPECS.keys()].filter((k) => k.startsWith(`${group}.`)).map((k) => k.slice(group.length + 1))
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new FluentError('ERR_FLUENT_CONFIG', `unknown ${group} option "${key}" (did you mean "${nearest(key, keys)}"?)`)
    }
    const v = checkValue(`${group}.${key}`, (value as Record<string, unknown>)[key])
    if (v !== undefined) out[key] = v
  }
  return out
}

/** Options that are not in the native table: they never cross into Rust as such. */
const JS_ONLY = ['errorHandler', 'servers']
const SERVER_KEYS = ['host', 'port', 'path', 'weight', 'standby', 'resolve', 'tls', 'security']

/** The TLS and handshake checks shared by the client-wide settings and each server's. */
function checkSecure(where: string, tls: Record<string, unknown> | undefined, security: Record<string, unknown> | undefined, unix: boolean): void {
  if (tls !== undefined && unix) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${where}tls is set but path (a Unix socket) is used: TLS needs host and port`)
  }
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${where}tls.cert and tls.key go together (mutual TLS): set both or neither`)
  }
  if (security !== undefined && security.sharedKey === undefined) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${where}security needs sharedKey (the key set in the server's <security> section)`)
  }
  if (security !== undefined && security.password !== undefined && security.username === undefined) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${where}security.password is set without security.username`)
  }
  if (tls?.rejectUnauthorized === false) warnUnverifiedOnce()
}

type NativeServer = NonNullable<NativeOptions['servers']>[number]

/** One entry of `servers`: `{ host, port } | { path }`, `weight`, `standby`, its own `tls`/`security` (or `false`). */
function checkServer(i: number, value: unknown): NativeServer {
  const where = `servers[${i}].`
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FluentError('ERR_FLUENT_CONFIG', `servers[${i}] must be an object ({ host, port } or { path }), got ${show(value)}`)
  }
  const o = value as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!SERVER_KEYS.includes(key)) {
      throw new FluentError('ERR_FLUENT_CONFIG', `unknown option "${where}${key}" (did you mean "${nearest(key, SERVER_KEYS)}"?)`)
    }
  }
  const at = (name: string, key: string) => {
    try {
      return checkValue(name, o[key])
    } catch (e) {
      // The table names the row (`servers.weight`, `host`); the user wrote `servers[i].weight`.
      throw new FluentError('ERR_FLUENT_CONFIG', `${where}${key}${(e as Error).message.slice(name.length)}`)
    }
  }
  if (o.path !== undefined && (o.host !== undefined || o.port !== undefined)) {
    throw new FluentError('ERR_FLUENT_CONFIG', `${where}path (a Unix socket) and host/port are exclusive: set one or the other`)
  }
  if (o.path === undefined && o.host === undefined) {
    throw new FluentError('ERR_FLUENT_CONFIG', `servers[${i}] needs host (and port) or path`)
  }
  const off = (key: 'tls' | 'security') => o[key] === false
  const tls = off('tls') ? undefined : checkGroup('tls', o.tls)
  const security = off('security') ? undefined : checkGroup('security', o.security)
  const unix = o.path !== undefined
  // A Unix server that inherits the client-wide tls is refused by the native check, with its index.
  checkSecure(where, tls, security, unix)
  return {
    host: at('host', 'host') as string | undefined,
    port: at('port', 'port') as number | undefined,
    path: at('path', 'path') as string | undefined,
    weight: at('servers.weight', 'weight') as number | undefined,
    standby: at('servers.standby', 'standby') as boolean | undefined,
    resolve: at('servers.resolve', 'resolve') as string | undefined,
    tls: tls as NativeServer['tls'],
    noTls: off('tls') || undefined,
    security: security === undefined ? undefined : ({ clientHostname: hostname(), ...security } as NativeServer['security']),
    noSecurity: off('security') || undefined,
  }
}

/**
 * Every key of `options` is a client option, else ERR_FLUENT_CONFIG with the nearest name. A
 * wrapper (winston, pino) takes its own keys out first and passes their names as `wrapperKeys`,
 * so "did you mean" also considers them (`tagkey` -> `tagKey`, not `path`).
 */
export function checkOptionNames(options: Record<string, unknown>, wrapperKeys: readonly string[] = []): void {
  const names = [...[...SPECS.keys()].filter((k) => !k.includes('.')), ...GROUPS, ...JS_ONLY]
  for (const key of Object.keys(options)) {
    if (!names.includes(key)) {
      throw new FluentError('ERR_FLUENT_CONFIG', `unknown option "${key}" (did you mean "${nearest(key, [...wrapperKeys, ...names])}"?)`)
    }
  }
}

/** The client's options: a typo or a wrong type is ERR_FLUENT_CONFIG naming the key. */
export function checkClientOptions(options: unknown): NativeOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new FluentError('ERR_FLUENT_CONFIG', `options must be an object, got ${show(options)}`)
  }
  const o = options as Record<string, unknown>
  checkOptionNames(o)
  const tls = checkGroup('tls', o.tls)
  const security = checkGroup('security', o.security)
  const breaker = checkGroup('breaker', o.breaker)
  const spool = checkGroup('spool', o.spool)
  if (spool !== undefined && spool.dir === undefined) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'spool needs dir (the directory the spool keeps its files in)')
  }
  checkSecure('', tls, security, o.path !== undefined)
  // JS-side only (the handler runs here), but checked against the same table.
  checkValue('errorHandlerTimeoutMs', o.errorHandlerTimeoutMs)
  if (o.errorHandler !== undefined && typeof o.errorHandler !== 'function') {
    throw new FluentError('ERR_FLUENT_CONFIG', `errorHandler must be a function (error, batch) => boolean | Promise<boolean>, got ${show(o.errorHandler)}`)
  }
  let servers: NativeServer[] | undefined
  if (o.servers !== undefined) {
    if (!Array.isArray(o.servers) || o.servers.length === 0) {
      throw new FluentError('ERR_FLUENT_CONFIG', `servers must be a non-empty array of { host, port } or { path }, got ${show(o.servers)}`)
    }
    if (o.host !== undefined || o.port !== undefined || o.path !== undefined) {
      throw new FluentError('ERR_FLUENT_CONFIG', 'servers replaces host, port and path: set one or the other')
    }
    servers = o.servers.map((s, i) => checkServer(i, s))
    if (servers.every((s) => s.standby === true)) {
      throw new FluentError('ERR_FLUENT_CONFIG', 'servers: at least one server must not be a standby')
    }
  }
  const v = (name: string) => checkValue(name, o[name]) as never
  // `compress: false` is "off", like leaving it out.
  const compress = o.compress === false ? undefined : (v('compress') as string | undefined)
  const level = v('compressionLevel') as number | undefined
  if (level !== undefined && compress === undefined) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'compressionLevel is set but compress is not: set compress: "gzip" or "zstd"')
  }
  if (o.path !== undefined && (o.host !== undefined || o.port !== undefined)) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'path (a Unix socket) and host/port are exclusive: set one or the other')
  }
  return {
    host: v('host'),
    port: v('port'),
    path: v('path'),
    mode: v('mode'),
    timeAsInteger: v('timeAsInteger'),
    // The level's range and default depend on the algorithm: the core checks and fills them.
    compress: compress as NativeOptions['compress'],
    compressionLevel: level,
    requireAck: v('requireAck'),
    maxBufferBytes: v('maxBufferBytes'),
    overflow: v('overflow'),
    batchBytes: v('batchBytes'),
    flushIntervalMs: v('flushIntervalMs'),
    maxRecordBytes: v('maxRecordBytes'),
    connectTimeoutMs: v('connectTimeoutMs'),
    writeTimeoutMs: v('writeTimeoutMs'),
    ackTimeoutMs: v('ackTimeoutMs'),
    maxInFlight: v('maxInFlight'),
    reconnectInitialDelayMs: v('reconnectInitialDelayMs'),
    reconnectMaxDelayMs: v('reconnectMaxDelayMs'),
    maxBatchAttempts: v('maxBatchAttempts'),
    exitFlushTimeoutMs: v('exitFlushTimeoutMs'),
    handshakeTimeoutMs: v('handshakeTimeoutMs'),
    tls: tls as NativeOptions['tls'],
    security:
      security === undefined
        ? undefined
        : ({ clientHostname: hostname(), ...security } as NativeOptions['security']),
    breaker: breaker as NativeOptions['breaker'],
    servers,
    heartbeat: v('heartbeat'),
    heartbeatIntervalMs: v('heartbeatIntervalMs'),
    dnsTtlMs: v('dnsTtlMs'),
    keepUndelivered: o.errorHandler !== undefined ? true : undefined,
    errorHandlerMaxBytes: v('errorHandlerMaxBytes'),
    spool: spool as NativeOptions['spool'],
  }
}
