/**
 * Flag parsing for the CLI commands: node:util parseArgs (strict), with errors that name the
 * command and exit with status 2, and the connection flags every command shares.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { distance, nearest } from '../options.js'
import type { FluentClientOptions } from '../types.js'

export type Spec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean; multiple?: boolean }>

/** Exit statuses, documented in `--help` and docs/cli.md. */
export const EXIT = { ok: 0, undelivered: 1, usage: 2, unreachable: 3, badInput: 4 } as const

/** A user mistake: printed as one line with a pointer to --help, exit status 2. */
export class UsageError extends Error {}

/**
 * Strict parsing. `-h` is `--help` in every command that has `--help` (fluent-cat's `-h` for the
 * host is `--host` here), and an unknown flag names the nearest known one.
 */
export function parse(command: string, spec: Spec, argv: string[]): { values: Record<string, unknown>; positionals: string[] } {
  const options: Spec = spec.help !== undefined && spec.help.short === undefined ? { ...spec, help: { ...spec.help, short: 'h' } } : spec
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true, allowNegative: true } as never) as {
      values: Record<string, unknown>
      positionals: string[]
    }
    return { values, positionals }
  } catch (e) {
    const err = e as Error & { code?: string }
    const flag = /^Unknown option '(-{1,2})([^']*)'/.exec(err.message)
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== null) {
      const guess = flag[1] === '--' ? similar(flag[2], Object.keys(options)) : nearestShort(flag[2], options)
      throw new UsageError(`${command}: unknown option ${flag[1]}${flag[2]}${guess === undefined ? '' : ` (did you mean ${guess}?)`}`)
    }
    throw new UsageError(`${command}: ${err.message.split('\n')[0]}`)
  }
}

/** The nearest name as `--name`, unless it is too far off to be a typo of it. */
export function similar(name: string, names: readonly string[]): string | undefined {
  const best = nearest(name, names)
  return distance(name, best) <= Math.max(2, Math.floor(name.length / 3)) ? `--${best}` : undefined
}

/** For an unknown `-x`: the long flag whose name starts with that letter, if one does. */
function nearestShort(letter: string, spec: Spec): string | undefined {
  const long = Object.keys(spec).find((k) => k.startsWith(letter))
  return long === undefined ? undefined : `--${long}`
}

/** Connection flags: fluent-cat's names (no bare -h: that is --help here), plus TLS and auth. */
export const CONNECTION: Spec = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  unix: { type: 'boolean', short: 'u' },
  socket: { type: 'string', short: 's' },
  tls: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-servername': { type: 'string' },
  'tls-insecure': { type: 'boolean' },
  'shared-key': { type: 'string' },
  'self-hostname': { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
}

export const CONNECTION_HELP = `Connection:
  --host HOST              server host (default 127.0.0.1)
  -p, --port PORT          server port (default 24224)
  -u, --unix               use a Unix socket: --socket, $FLUENT_SOCKET or /var/run/fluent/fluent.sock
  -s, --socket PATH        Unix socket path (implies --unix)
  --tls                    TLS with the default roots; --tls-ca FILE, --tls-cert FILE, --tls-key FILE,
                           --tls-servername NAME, --tls-insecure (skip verification) refine it
  --shared-key KEY         the Forward handshake; --self-hostname NAME, --username U, --password P`

export function integer(command: string, name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (typeof v !== 'string' || !/^\d+$/.test(v) || n < min || n > max) throw new UsageError(`${command}: --${name} must be an integer in ${min}..${max}, got "${String(v)}"`)
  return n
}

function file(command: string, flag: string, path: unknown): string | undefined {
  if (path === undefined) return undefined
  try {
    return readFileSync(path as string, 'utf8')
  } catch (e) {
    throw new UsageError(`${command}: --${flag}: ${(e as Error).message}`)
  }
}

/** The connection part of FluentClientOptions from the shared flags. */
export function connection(command: string, v: Record<string, unknown>): FluentClientOptions {
  const out: FluentClientOptions = {}
  if (v.unix || v.socket !== undefined) {
    if (v.host !== undefined || v.port !== undefined) throw new UsageError(`${command}: --unix/--socket and --host/--port exclude each other`)
    out.path = (v.socket as string | undefined) ?? process.env.FLUENT_SOCKET ?? '/var/run/fluent/fluent.sock'
  } else {
    if (v.host !== undefined) out.host = v.host as string
    out.port = integer(command, 'port', v.port, 1, 65535) ?? 24224
  }
  const tlsFlags = ['tls-ca', 'tls-cert', 'tls-key', 'tls-servername', 'tls-insecure'].filter((k) => v[k] !== undefined)
  if (v.tls || tlsFlags.length > 0) {
    const ca = file(command, 'tls-ca', v['tls-ca'])
    const cert = file(command, 'tls-cert', v['tls-cert'])
    const key = file(command, 'tls-key', v['tls-key'])
    out.tls = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      ...(v['tls-servername'] === undefined ? {} : { servername: v['tls-servername'] as string }),
      ...(v['tls-insecure'] ? { rejectUnauthorized: false } : {}),
    }
  }
  if (v['shared-key'] !== undefined) {
    out.security = {
      sharedKey: v['shared-key'] as string,
      ...(v['self-hostname'] === undefined ? {} : { clientHostname: v['self-hostname'] as string }),
      ...(v.username === undefined ? {} : { username: v.username as string }),
      ...(v.password === undefined ? {} : { password: v.password as string }),
    }
  } else if (v['self-hostname'] !== undefined || v.username !== undefined || v.password !== undefined) {
    throw new UsageError(`${command}: --self-hostname, --username and --password need --shared-key`)
  }
  return out
}

/** The compression flags of `cat` and `bench`. */
export const COMPRESSION: Spec = {
  gzip: { type: 'boolean' },
  zstd: { type: 'boolean' },
  'compression-level': { type: 'string' },
}

export const COMPRESSION_HELP = `  --gzip                   send compressed batches (CompressedPackedForward, gzip)
  --zstd                   the same with zstd (Fluent Bit >= 4.1.0, fluentd >= 1.19)
  --compression-level N    the level of --gzip (0-9, default 1) or --zstd (1-19, default 3)`

/** `compress` and `compressionLevel` from the compression flags; the client checks the level's range. */
export function compression(command: string, v: Record<string, unknown>): Pick<FluentClientOptions, 'compress' | 'compressionLevel'> {
  if (v.gzip && v.zstd) throw new UsageError(`${command}: --gzip and --zstd exclude each other`)
  const compress = v.gzip ? ('gzip' as const) : v.zstd ? ('zstd' as const) : undefined
  const level = integer(command, 'compression-level', v['compression-level'], 0, 19)
  if (level !== undefined && compress === undefined) throw new UsageError(`${command}: --compression-level needs --gzip or --zstd`)
  return { ...(compress === undefined ? {} : { compress }), ...(level === undefined ? {} : { compressionLevel: level }) }
}

/** `host:port` or the socket path, for messages. */
export function where(o: FluentClientOptions): string {
  return o.path ?? `${o.host ?? '127.0.0.1'}:${o.port ?? 24224}`
}
