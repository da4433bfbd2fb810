// Drives fixtures/spool-app.cjs: an application process with one spooling FluentClient that a test
// can command (emit, stream, stats, close, exit), SIGKILL, and start again on the same spool dir,
// optionally inside a private mount namespace (see spool-helpers.ts MountNs).
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { CloseReport, FluentStats } from '../index.js'

const script = fileURLToPath(new URL('./fixtures/spool-app.cjs', import.meta.url))

/** Every app still running: a failed test must not leave processes behind (or keep ava alive). */
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL')
})

export interface AppEvent {
  type: string
  code?: string
  message?: string
  [k: string]: unknown
}

/** `stats()` with the spool terms of the contract (typed loosely: the tests check they exist). */
export type SpoolStats = FluentStats & Record<string, any>
export type SpoolReport = CloseReport & Record<string, any>

export interface Progress {
  next: number
  refused: number
  at: number
}

export class SpoolApp {
  readonly pid: number
  /** Error events, constructor errors and troubles, in order. */
  readonly events: AppEvent[] = []
  /** Progress lines of a `stream`. */
  readonly progress: Progress[] = []
  exitStats: { stats: SpoolStats; handlerRecords: number } | undefined
  stderr = ''
  readonly #child: ChildProcess
  readonly #replies = new Map<number, (r: any) => void>()
  #nextId = 1
  readonly #exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  private constructor(child: ChildProcess) {
    this.#child = child
    this.pid = child.pid ?? 0
    this.#exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })))
  }

  /**
   * Starts the app with these client options. `wrap` prefixes the command (e.g. `nsenter -t PID -m`
   * to run inside a mount namespace). Resolves once the app printed `ready`.
   */
  static async start(options: Record<string, unknown>, wrap: string[] = []): Promise<SpoolApp> {
    const argv = [...wrap, process.execPath, script, JSON.stringify(options)]
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
    running.add(child)
    child.once('close', () => running.delete(child))
    const app = new SpoolApp(child)
    child.stderr!.on('data', (d) => (app.stderr += d))
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`spool app did not start within 20 s; stderr: ${app.stderr}`)), 20_000)
      app.#exited.then(({ code, signal }) => {
        clearTimeout(timer)
        reject(new Error(`spool app exited (${code ?? signal}) before it was ready; stderr: ${app.stderr}`))
      })
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let msg: AppEvent
        try {
          msg = JSON.parse(line)
        } catch {
          app.stderr += `[stdout] ${line}\n`
          return
        }
        if (msg.type === 'ready') {
          clearTimeout(timer)
          resolve()
        } else if (msg.type === 'reply') {
          const r = app.#replies.get(msg.id as number)
          app.#replies.delete(msg.id as number)
          r?.(msg)
        } else if (msg.type === 'progress') app.progress.push(msg as unknown as Progress)
        else if (msg.type === 'exitStats') app.exitStats = msg as never
        else app.events.push(msg)
      })
    })
    await ready
    return app
  }

  /** Sends a command and waits (bounded) for its reply. */
  command<T = any>(cmd: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(cmd)} within ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs)
      this.#exited.then(({ code, signal }) => {
        clearTimeout(timer)
        reject(new Error(`spool app exited (${code ?? signal}) before replying to ${cmd.cmd}; stderr: ${this.stderr}`))
      })
      this.#replies.set(id, (r) => {
        clearTimeout(timer)
        if (r.failed !== undefined) reject(new Error(`app command ${cmd.cmd} failed: ${r.failed}`))
        else resolve(r as T)
      })
      this.#child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`)
    })
  }

  /** Emits records {i, pad} for i in [from, to); returns the refused ids. */
  async emit(from: number, to: number, pad = 0, tag?: string): Promise<{ accepted: number; refused: number[]; at: number }> {
    return this.command({ cmd: 'emit', from, to, pad, tag })
  }

  stats(): Promise<SpoolStats> {
    return this.command<{ stats: SpoolStats }>({ cmd: 'stats' }).then((r) => r.stats)
  }

  async close(timeoutMs: number): Promise<{ report: SpoolReport; stats: SpoolStats; handlerRecords: number; code: number | null }> {
    const r = await this.command({ cmd: 'close', timeoutMs }, timeoutMs + 60_000)
    this.#child.stdin!.end()
    const { code } = await this.exited()
    return { ...r, code }
  }

  /** process.exit(0) in the app: its exit drain runs; resolves with the stats it printed after. */
  async exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.#child.stdin!.write(`${JSON.stringify({ cmd: 'exit' })}\n`)
    return this.exited()
  }

  /** SIGKILL; resolves once the process is gone, with the moment the signal was sent (parent clock). */
  async kill(): Promise<number> {
    const at = Date.now()
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL')
    await this.#exited
    return at
  }

  /** Resolves when the process has exited (bounded: SIGKILLed after `timeoutMs`). */
  async exited(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs)
    const r = await this.#exited
    clearTimeout(timer)
    return r
  }

  /** Error events with this code. */
  errors(code: string): AppEvent[] {
    return this.events.filter((e) => e.type === 'error' && e.code === code)
  }
}
