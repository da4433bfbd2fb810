/**
 * The paced phase: emit a steady `rate` of records from a 1 ms timer tick, warm up, then measure the
 * event-loop delay, how busy the main thread is, and the rate achieved, optionally with the threads
 * placed on CPUs (`pin`).
 */
import { execFileSync } from 'node:child_process'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'

import type { Client } from './client.ts'
import { Foreign, mainThreadCpuUs, processCpuUs } from './clocks.ts'
import type { ChildConfig } from './worker-protocol.ts'

/**
 * Places this process's threads for a `pin` run: all of them on CPU 1, then the main thread (its tid
 * is the pid) on CPU 0. It runs after the client is made (fluent-native starts its writer thread in
 * the constructor); threads started later inherit their creator's CPU. Returns what went wrong, if
 * anything, for the row's notes.
 */
function pinThreads(): string | undefined {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' })
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
    return undefined
  } catch (e) {
    return `taskset failed: ${(e as Error).message.split('\n')[0]}`
  }
}

/** `make` builds record i of the run's shape. */
export async function paced(
  cfg: ChildConfig,
  client: Client,
  make: (i: number) => object,
): Promise<Record<string, unknown>> {
  const rate = cfg.rate
  // At most 5 ms of backlog per tick: a client that cannot keep up shows it in the achieved rate.
  const maxBurst = Math.max(1, Math.round(rate / 200))
  const hist = monitorEventLoopDelay({ resolution: 1 })
  let emitted = 0
  let offered = 0
  let measured: {
    at: number
    emitted: number
    main: number
    cpu: number
    elu: ReturnType<typeof performance.eventLoopUtilization>
  } | null = null
  let result: Record<string, unknown> = {}
  const foreign = new Foreign(cfg.sinkPid)
  const pinError = cfg.pin ? pinThreads() : undefined
  const start = performance.now()
  const warmEnd = start + cfg.warmupMs
  const end = warmEnd + cfg.measureMs
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      const due = Math.floor(((now - start) * rate) / 1000)
      let k = due - offered
      offered = due
      if (k > maxBurst) k = maxBurst
      client.retry?.()
      for (let j = 0; j < k; j++) client.emit(make(emitted++))
      if (measured === null && now >= warmEnd) {
        hist.enable()
        foreign.start()
        measured = {
          at: now,
          emitted,
          main: mainThreadCpuUs(),
          cpu: processCpuUs(),
          elu: performance.eventLoopUtilization(),
        }
      }
      if (measured !== null && now >= end) {
        hist.disable()
        const wallMs = now - measured.at
        const main = mainThreadCpuUs() - measured.main
        const elu = performance.eventLoopUtilization(measured.elu).utilization
        result = {
          ...foreign.stop(),
          wallMs,
          achievedRate: ((emitted - measured.emitted) * 1000) / wallMs,
          loopP50Ms: hist.percentile(50) / 1e6,
          loopP99Ms: hist.percentile(99) / 1e6,
          loopMaxMs: hist.max / 1e6,
          loopMeanMs: hist.mean / 1e6,
          mainBusy: Number.isFinite(main) ? main / 1000 / wallMs : elu,
          mainCpuSource: Number.isFinite(main) ? 'schedstat' : 'elu',
          elu,
          procCpu: (processCpuUs() - measured.cpu) / 1000 / wallMs,
          pinned: cfg.pin === true && pinError === undefined,
          ...(pinError ? { pinError } : {}),
        }
        resolve()
        return
      }
      setTimeout(tick, 1)
    }
    setTimeout(tick, 1)
  })
  if (cfg.contender !== 'idle' && cfg.contender !== 'build' && cfg.contender !== 'spin') client.emitLast(make(emitted++))
  const extra = await client.finish()
  return { ...result, emitted, maxRssKiB: process.resourceUsage().maxRSS, client: extra }
}
