// Shared plumbing of the spool tests: a fresh spool dir, the accounting identity with the spool
// terms (docs/spool.md, the spool contract), a private mount namespace holding a small or
// read-only tmpfs, and the segment files of a spool dir.
import { spawn, spawnSync } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export function spoolDir(): string {
  return mkdtempSync(join(tmpdir(), 'fluent-spool-'))
}

const LEFT = ['emitted', 'refused', 'replayed'] as const
const RIGHT = ['sent', 'dropped', 'rejected', 'handled', 'pending', 'spooled'] as const

/**
 * `emitted + refused + replayed = sent + dropped + rejected + handled + pending + spooled`, or
 * what is off (an empty list when it holds). Every term must be a number: a missing term is a
 * failure, not a zero.
 */
export function identityProblems(what: string, r: Record<string, unknown> | undefined): string[] {
  if (r === undefined) return [`${what}: missing`]
  const terms = [...LEFT, ...RIGHT]
  const missing = terms.filter((k) => typeof r[k] !== 'number')
  const show = terms.map((k) => `${k} ${r[k]}`).join(', ')
  if (missing.length > 0) return [`${what}: no ${missing.join(', ')} (${show})`]
  const left = LEFT.reduce((n, k) => n + (r[k] as number), 0)
  const right = RIGHT.reduce((n, k) => n + (r[k] as number), 0)
  return left === right ? [] : [`${what}: emitted + refused + replayed = ${left}, but the buckets sum to ${right} (${show})`]
}

/** Every `.seg` file under a spool dir (all slots), oldest name first within a slot. */
export function segmentFiles(dir: string): string[] {
  const out: string[] = []
  for (const slot of readdirSync(dir).sort()) {
    const p = join(dir, slot)
    if (!statSync(p).isDirectory()) continue
    for (const f of readdirSync(p).sort()) if (f.endsWith('.seg')) out.push(join(p, f))
  }
  return out
}

/** Bytes of every segment file under `dir`. */
export function segmentBytes(dir: string): number {
  return segmentFiles(dir).reduce((n, f) => n + statSync(f).size, 0)
}

/**
 * Root and util-linux's unshare/nsenter, which the full-disk and read-only tests need (CI runs as
 * root). Throws with a clear message instead of letting the test skip or pass vacuously.
 */
export function requireMountNamespaces(): void {
  const why: string[] = []
  if (process.getuid?.() !== 0) why.push(`runs as uid ${process.getuid?.()}, not root`)
  for (const tool of ['unshare', 'nsenter', 'mount']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) why.push(`no ${tool} on PATH`)
  }
  if (why.length > 0) {
    throw new Error(
      `this test mounts a small or read-only tmpfs in a private mount namespace and needs root with unshare/nsenter (CI has them): ${why.join('; ')}`,
    )
  }
}

/** Every namespace holder still running: a failed test must not leave them behind. */
const holders = new Set<ChildProcess>()
process.on('exit', () => {
  for (const h of holders) h.kill('SIGKILL')
})

/**
 * A private mount namespace, held open by a `sleep` process, in which `dir` is a tmpfs of `sizeKiB`
 * (read-only with `readOnly`). Apps run inside it with `wrap` (nsenter); the test reads and damages
 * its files through `/proc/<holder>/root`, which resolves paths in that namespace. The tmpfs lives
 * as long as the holder does, so an app can be killed and started again on the same files.
 */
export class MountNs {
  readonly dir: string
  readonly #holder: ChildProcess

  private constructor(dir: string, holder: ChildProcess) {
    this.dir = dir
    this.#holder = holder
  }

  static async start(opts: { sizeKiB: number; readOnly?: boolean; dir?: string }): Promise<MountNs> {
    requireMountNamespaces()
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fluent-ns-'))
    mkdirSync(dir, { recursive: true })
    const ro = opts.readOnly ? ` && mount -o remount,ro ${dir}` : ''
    const script = `mount -t tmpfs -o size=${opts.sizeKiB}k tmpfs ${dir}${ro} && echo ready && exec sleep 100000`
    const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    holders.add(holder)
    holder.once('close', () => holders.delete(holder))
    let stderr = ''
    holder.stderr!.on('data', (d) => (stderr += d))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`mount namespace not ready within 10 s: ${stderr}`)), 10_000)
      holder.once('close', (code) => {
        clearTimeout(timer)
        reject(new Error(`mount namespace holder exited (${code}): ${stderr}`))
      })
      createInterface({ input: holder.stdout! }).on('line', (l) => {
        if (l !== 'ready') return
        clearTimeout(timer)
        resolve()
      })
    })
    return new MountNs(dir, holder)
  }

  /** Command prefix that runs a program inside this namespace. */
  get wrap(): string[] {
    return ['nsenter', '-t', String(this.#holder.pid), '-m', `--wd=${process.cwd()}`, '--']
  }

  /** `p` (a path inside the namespace) as this process can reach it. */
  outside(p: string): string {
    return `/proc/${this.#holder.pid}/root${p}`
  }

  async stop(): Promise<void> {
    if (this.#holder.exitCode !== null || this.#holder.signalCode !== null) return
    const gone = new Promise((resolve) => this.#holder.once('close', resolve))
    this.#holder.kill('SIGKILL')
    await gone
  }
}

/** Ids in [0, n) missing from `got`, and how many arrived more than once. */
export function coverage(expected: Iterable<number>, got: Iterable<number>): { missing: number[]; duplicates: number; strays: number[] } {
  const want = new Set(expected)
  const seen = new Map<number, number>()
  const strays: number[] = []
  for (const id of got) {
    if (!want.has(id)) strays.push(id)
    seen.set(id, (seen.get(id) ?? 0) + 1)
  }
  const missing: number[] = []
  for (const id of want) if (!seen.has(id)) missing.push(id)
  let duplicates = 0
  for (const [id, n] of seen) if (want.has(id)) duplicates += n - 1
  return { missing, duplicates, strays }
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k)
}
