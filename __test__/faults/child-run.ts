/**
 * Runs one life of the client child (client-child.ts): spawns it (inside the full disk's mount
 * namespace when there is one), does the disk faults of that life at their moments, SIGKILLs it at
 * its kill moment, and collects what it printed: the `ACC` progress lines and the final `RESULT`.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Schedule } from './schedule.js'

const CHILD = fileURLToPath(new URL('./client-child.ts', import.meta.url))
/** A schedule's child is killed after this: a hang is a failure, never a stuck test run. */
const HARD_LIMIT_MS = 120_000

export interface Result {
  accepted: number[]
  refused: number
  unknown: number[]
  unknownAccepted: number
  report?: Record<string, number>
  stats?: Record<string, number> & { spool?: Record<string, unknown> | null }
  endMs?: number
  closeTimeoutMs?: number
  handlerCalls: number
  errors: Record<string, number>
  troubles: string[]
  /** With acks: ids of the records the client said were acknowledged, by server address. */
  delivered?: Record<string, number[]>
  deliveredRecords?: number
}

export interface ChildRun {
  life: number
  status: number | null
  signal: string | null
  stderr: string
  /** This run was SIGKILLed by the schedule (at its kill moment), not by the hard limit. */
  killedAtPlan: boolean
  result?: Result
  /** What the `ACC` lines said: ids accepted, ids of refusing emitMany calls, the next id it would have used. */
  acc: { accepted: number[]; unknown: number[]; next: number }
  /** Disk faults done during this life, for the failure message. */
  done: string[]
}

export interface LifeSpec {
  life: number
  ports: number[]
  spoolDir?: string
  /** SIGKILL at this moment after the start (the child idles after its operations until then). */
  killAtMs?: number
  /** Things to do to the disk at moments after the start; each returns what it did, if anything. */
  during: Array<{ atMs: number; run: () => string | undefined }>
  /** Command prefix (nsenter into the full disk's namespace). */
  wrap: string[]
}

export function runChild(plan: Schedule, spec: LifeSpec): Promise<ChildRun> {
  const arg = JSON.stringify({ ...plan, ports: spec.ports, life: spec.life, spoolDir: spec.spoolDir, killed: spec.killAtMs !== undefined })
  const argv = [...spec.wrap, process.execPath, '--import', '@oxc-node/core/register', CHILD, arg]
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OXC_TSCONFIG_PATH: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) },
    })
    let stdout = ''
    let stderr = ''
    let killedAtPlan = false
    const done: string[] = []
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timers = [setTimeout(() => child.kill('SIGKILL'), HARD_LIMIT_MS)]
    if (spec.killAtMs !== undefined) {
      timers.push(
        setTimeout(() => {
          killedAtPlan = true
          child.kill('SIGKILL')
        }, spec.killAtMs),
      )
    }
    for (const d of spec.during) {
      timers.push(
        setTimeout(() => {
          const what = d.run()
          if (what !== undefined) done.push(`${d.atMs} ms: ${what}`)
        }, d.atMs),
      )
    }
    child.on('close', (status, signal) => {
      for (const t of timers) clearTimeout(t)
      const lines = stdout.split('\n')
      const acc = { accepted: [] as number[], unknown: [] as number[], next: 0 }
      for (const l of lines) {
        if (!l.startsWith('ACC ')) continue
        const a = JSON.parse(l.slice(4)) as { a: number[]; u: number[]; next: number }
        acc.accepted.push(...a.a)
        acc.unknown.push(...a.u)
        acc.next = a.next
      }
      const line = lines.find((l) => l.startsWith('RESULT '))
      resolve({ life: spec.life, status, signal, stderr, killedAtPlan, result: line === undefined ? undefined : JSON.parse(line.slice(7)), acc, done })
    })
  })
}
