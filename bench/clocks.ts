/**
 * Where the bench reads time: this process's main thread and all its threads, another process, the
 * whole machine (Linux /proc; NaN where it is missing), and epoch milliseconds that compare across
 * processes. Shared by the child (its measurements) and the driver (its quiet-machine wait and
 * delivery times), so it imports Node built-ins only (see worker.ts).
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

/** USER_HZ is 100 on every Linux ABI Node supports. */
const CLOCK_TICK_US = 10_000

/** Main-thread CPU time in microseconds (Linux: the main thread's tid is the pid), or NaN. */
export function mainThreadCpuUs(): number {
  try {
    const text = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8')
    return Number(text.split(' ')[0]) / 1000
  } catch {
    return NaN
  }
}

/** This process's CPU time, every thread, user + system, in microseconds. */
export function processCpuUs(): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** System-wide busy CPU time (all cores) in microseconds, from /proc/stat, or NaN. */
export function systemBusyUs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
    const busy = f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]
    return busy * CLOCK_TICK_US
  } catch {
    return NaN
  }
}

/** CPU time of another process (user + system) in microseconds, or NaN. */
export function pidCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * CLOCK_TICK_US
  } catch {
    return NaN
  }
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now()
}

/** CPU used by processes other than this one and the sink during a window, in cores. */
export class Foreign {
  readonly #sinkPid: number
  #sys = 0
  #sink = 0
  #own = 0
  #at = 0
  constructor(sinkPid: number) {
    this.#sinkPid = sinkPid
  }
  start(): void {
    this.#sys = systemBusyUs()
    this.#sink = pidCpuUs(this.#sinkPid)
    this.#own = processCpuUs()
    this.#at = performance.now()
  }
  /** Sink CPU and foreign CPU in cores over the window. */
  stop(): { sinkCores: number; foreignCores: number } {
    const wallUs = (performance.now() - this.#at) * 1000
    const sink = pidCpuUs(this.#sinkPid) - this.#sink
    const sys = systemBusyUs() - this.#sys
    const own = processCpuUs() - this.#own
    return { sinkCores: sink / wallUs, foreignCores: Math.max(0, sys - sink - own) / wallUs }
  }
}
