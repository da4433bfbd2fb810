/**
 * A resolver the DNS fleet tests control: the client runs in a child process inside a private
 * mount namespace (`unshare -m`, as root, which CI is) where a temporary file is bind-mounted over
 * `/etc/hosts`. The test rewrites that file in place (same inode, so the bind mount sees it) and
 * the client's `getaddrinfo` reads it on its next lookup; every name it holds resolves to loopback
 * addresses (127.0.0.2, 127.0.0.3, ...), each served by its own FluentServer. Nothing outside the
 * namespace sees the file.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('./fleet-child.ts', import.meta.url))

/**
 * Why a private mount namespace cannot be had here, or undefined if it can. The tests fail with
 * this (they never skip): CI runs as root, where it always works.
 */
export function namespaceUnavailable(): string | undefined {
  const probe = spawnSync('unshare', ['-m', 'sh', '-c', 'mount --bind /etc/hosts /etc/hosts'], { encoding: 'utf8' })
  if (probe.error === undefined && probe.status === 0) return undefined
  const why = probe.error?.message ?? (probe.stderr.trim() || `exit status ${probe.status}`)
  return (
    `the DNS fleet tests need a private mount namespace to give the client its own /etc/hosts ` +
    `(unshare -m and mount --bind, as root; CI runs as root): ${why}`
  )
}

/** A hosts file for one client: `set` rewrites it in place. */
export class Hosts {
  readonly dir = mkdtempSync(join(tmpdir(), 'fluent-dns-'))
  readonly path = join(this.dir, 'hosts')

  constructor(readonly name: string) {
    this.set([])
  }

  /** `name` resolves to these addresses (in this order) from the client's next lookup on. */
  set(addresses: string[]): void {
    const lines = ['127.0.0.1 localhost', ...addresses.map((a) => `${a} ${this.name}`)]
    writeFileSync(this.path, `${lines.join('\n')}\n`)
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export interface FleetChild {
  child: ChildProcess
  /** Asks for `stats()` and the connects so far. */
  stats(): Promise<ChildStats>
  /** Stops emitting, closes, and returns what the client saw. */
  close(): Promise<ChildResult>
  stderr(): string
}

export interface ChildStats {
  stats: { servers: Array<{ address: string; sent: number; inFlight: number }>; [k: string]: unknown }
  connects: Array<[string, number]>
  errors: Record<string, number>
}

export interface ChildResult extends ChildStats {
  emitted: number
  refused: number
  report: Record<string, number>
  troubles: string[]
}

/** Starts the client (fleet-child.ts) with `options`, seeing `hosts` as its /etc/hosts. */
export function startClient(hosts: Hosts, options: Record<string, unknown>): FleetChild {
  const child = spawn(
    'unshare',
    [
      '-m',
      'sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$@"',
      hosts.path,
      process.execPath,
      '--import',
      '@oxc-node/core/register',
      CHILD,
      JSON.stringify(options),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  const waiting: Array<{ prefix: string; resolve: (v: unknown) => void; reject: (e: Error) => void }> = []
  child.stdout!.on('data', (d) => {
    stdout += d
    let nl
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, nl)
      stdout = stdout.slice(nl + 1)
      const w = waiting.findIndex((x) => line.startsWith(`${x.prefix} `))
      if (w >= 0) waiting.splice(w, 1)[0].resolve(JSON.parse(line.slice(line.indexOf(' ') + 1)))
    }
  })
  child.stderr!.on('data', (d) => (stderr += d))
  child.on('close', (status) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`the client exited (${status}) before answering: ${stderr}`))
  })
  const ask = <T>(op: string, prefix: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`no ${prefix} from the client within ${timeoutMs} ms: ${stderr}`))
      }, timeoutMs)
      waiting.push({
        prefix,
        resolve: (v) => {
          clearTimeout(timer)
          resolve(v as T)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      })
      child.stdin!.write(`${JSON.stringify({ op })}\n`)
    })
  return {
    child,
    stats: () => ask<ChildStats>('stats', 'STATS', 10_000),
    close: () => ask<ChildResult>('close', 'RESULT', 40_000),
    stderr: () => stderr,
  }
}
