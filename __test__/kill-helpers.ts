// Fault-test plumbing: a real Forward server in a child process (fixtures/kill-server.cjs) that a
// test can SIGKILL and start again on the same port, and the record ids every instance received.
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deadPort } from './helpers.ts'

const script = fileURLToPath(new URL('./fixtures/kill-server.cjs', import.meta.url))

/** Every child still running: a failed test must not leave servers behind (or keep ava alive). */
const running = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL')
})

/** One server address, run by a child process at a time; every instance's ids are kept. */
export class KillableServer {
  port: number
  readonly files: string[] = []
  #child: ChildProcess | undefined
  readonly #dir: string

  private constructor(port: number, dir: string) {
    this.port = port
    this.#dir = dir
  }

  /** On `port`, or on a dead one (see `deadPort`): between a kill and a restart nobody may take it. */
  static async start(port?: number): Promise<KillableServer> {
    const s = new KillableServer(port ?? (await deadPort()), mkdtempSync(join(tmpdir(), 'fluent-kill-')))
    await s.restart()
    return s
  }

  /** Starts an instance on the same port (after a kill), recording into a fresh file. */
  async restart(): Promise<void> {
    const file = join(this.#dir, `ids-${this.files.length}.bin`)
    this.files.push(file)
    const child = fork(script, [String(this.port), file], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.#child = child
    running.add(child)
    child.once('exit', () => running.delete(child))
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fixture server did not start within 10 s')), 10_000)
      child.once('message', (m: { port: number }) => {
        clearTimeout(timer)
        resolve(m.port)
      })
      child.once('exit', (code) => reject(new Error(`fixture server exited (${code})`)))
    })
    this.port = port
  }

  /** Stops acking (ids are still recorded) and resolves once a request went unacknowledged. */
  hold(): Promise<void> {
    const child = this.#child as ChildProcess
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no request reached the held server within 10 s')), 10_000)
      child.on('message', (m) => {
        if (m !== 'held') return
        clearTimeout(timer)
        resolve()
      })
      child.send('hold')
    })
  }

  /** SIGKILL: no chance to close a socket or flush anything. Resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
    this.#child = undefined
  }

  /** Ends the current instance, if any (for teardown). */
  stop(): Promise<void> {
    return this.kill()
  }

  /** Ids received by instance `n` (all instances when omitted). */
  ids(n?: number): Uint32Array {
    const files = n === undefined ? this.files : [this.files[n]]
    const parts = files.filter((f) => existsSync(f)).map((f) => readFileSync(f))
    const all = Buffer.concat(parts)
    return new Uint32Array(all.buffer, all.byteOffset, all.byteLength / 4).slice()
  }
}

/** Holds the server's acks, emitting (`emitSome`) until a request went unacknowledged. */
export async function holdWhileEmitting(server: KillableServer, emitSome: () => Promise<void>): Promise<void> {
  let held = false
  const holding = server.hold().then(() => {
    held = true
  })
  // The hold rejects after 10 s without a request, which ends this loop too.
  holding.catch(() => {
    held = true
  })
  while (!held) {
    await emitSome()
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await holding
}

/** How often each id in [0, n) was received, over all the id lists. */
export function tally(n: number, ...lists: Uint32Array[]): { missing: number[]; duplicates: number; strays: number } {
  const seen = new Uint16Array(n)
  let strays = 0
  for (const list of lists) {
    for (const id of list) {
      if (id < n) seen[id]++
      else strays++
    }
  }
  const missing: number[] = []
  let duplicates = 0
  for (let i = 0; i < n; i++) {
    if (seen[i] === 0) missing.push(i)
    else duplicates += seen[i] - 1
  }
  return { missing, duplicates, strays }
}
