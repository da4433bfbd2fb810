/**
 * Interleaved per-call measurements of main-thread CPU time, shared by crossing.ts and logger.ts.
 *
 * Each task is a loop of `calls` calls. A warm-up runs every task until it is optimised and sizes its
 * loop to about `taskMs` (schedstat advances in scheduler ticks, so short loops would read as 0 or a
 * tick). Then `rounds` rounds run every task once each, in order; each round starts once the other
 * processes on the machine leave the CPUs mostly alone (up to `quietMs`), and each figure is the
 * median over the rounds. CPU time, not wall time: a main thread that waits for a core while the
 * writer thread, the receiver or another process runs is not charged for the wait.
 */
import { readFileSync } from 'node:fs'

export function threadCpuNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return Number(process.hrtime.bigint())
  }
}

/** System-wide busy CPU (all cores) in ns, from /proc/stat (clock ticks of 10 ms), or NaN. */
function systemBusyNs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    return (f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]) * 1e7
  } catch {
    return NaN
  }
}

function processCpuNs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) * 1000
}

/** Waits (at most `maxMs`) until other processes use less than `cores` for 300 ms; returns what they used. */
async function quiet(maxMs: number, cores = 0.3): Promise<number> {
  const until = Date.now() + maxMs
  let other = NaN
  do {
    const s0 = systemBusyNs()
    const p0 = processCpuNs()
    const t0 = process.hrtime.bigint()
    await new Promise((resolve) => setTimeout(resolve, 300))
    const wall = Number(process.hrtime.bigint() - t0)
    other = (systemBusyNs() - s0 - (processCpuNs() - p0)) / wall
  } while (!(other < cores) && Date.now() < until)
  return other
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

export interface TaskResults {
  /** ns per call, one per round. */
  samples: Map<string, number[]>
  calls: Map<string, number>
  /** Other processes' load (cores) before each round. */
  otherLoad: number[]
}

export async function runTasks(
  tasks: Record<string, (calls: number) => void>,
  opts: { rounds: number; taskMs: number; quietMs?: number; between?: () => Promise<void>; log?: (s: string) => void },
): Promise<TaskResults> {
  const between = opts.between ?? (async () => {})
  const samples = new Map<string, number[]>(Object.keys(tasks).map((k) => [k, []]))
  const calls = new Map<string, number>()
  const otherLoad: number[] = []
  for (const [name, run] of Object.entries(tasks)) {
    let n = 1000
    // The first long enough pass may still include connecting or compiling: sized from the next one.
    let passes = 0
    for (;;) {
      // Sized by CPU time too: under load, wall time would make the loops far too short.
      const t0 = threadCpuNs()
      run(n)
      const ms = (threadCpuNs() - t0) / 1e6
      await between()
      // A pass that was too short grows the loop, even after a long enough one: a task the JIT has
      // just optimised can drop below the mark again, and a loop that stopped growing would never end.
      const long = ms >= opts.taskMs / 4
      if ((long && ++passes === 2) || n >= 1e9) {
        calls.set(name, Math.max(1, Math.min(1e9, Math.ceil((n * opts.taskMs) / Math.max(ms, 0.001)))))
        break
      }
      if (!long) n *= 8
    }
  }
  for (let round = 0; round < opts.rounds; round++) {
    otherLoad.push(await quiet(opts.quietMs ?? 10_000))
    for (const [name, run] of Object.entries(tasks)) {
      const n = calls.get(name)!
      const t0 = threadCpuNs()
      run(n)
      samples.get(name)!.push((threadCpuNs() - t0) / n)
      await between()
    }
    opts.log?.(`round ${round + 1}/${opts.rounds} done (other load before it: ${otherLoad[round].toFixed(2)} cores)`)
  }
  return { samples, calls, otherLoad }
}
