/**
 * The throughput phase: emit `events` records as fast as the client takes them, `chunk` per
 * event-loop turn, then wait until the client says everything is written. Measures the main
 * thread's and the process's CPU, the wall time, peak RSS and other processes' load.
 */
import { performance } from 'node:perf_hooks'

import type { Client } from './client.ts'
import { Foreign, epochMs, mainThreadCpuUs, processCpuUs } from './clocks.ts'
import type { ChildConfig } from './worker-protocol.ts'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** `make` builds record i of the run's shape. */
export async function throughput(
  cfg: ChildConfig,
  client: Client,
  make: (i: number) => object,
): Promise<Record<string, unknown>> {
  const n = cfg.events
  const foreign = new Foreign(cfg.sinkPid)
  foreign.start()
  const elu0 = performance.eventLoopUtilization()
  const main0 = mainThreadCpuUs()
  const cpu0 = processCpuUs()
  const t0 = epochMs()
  const p0 = performance.now()
  let i = 0
  while (i < n - 1) {
    const end = Math.min(i + cfg.chunk, n - 1)
    for (; i < end; i++) client.emit(make(i))
    // Yield so that clients that write from the event loop can write.
    await turn()
    if (client.relieve) await client.relieve()
  }
  client.emitLast(make(i++))
  const emitMs = performance.now() - p0
  const extra = await client.finish()
  const doneMs = performance.now() - p0
  const main = mainThreadCpuUs() - main0
  const cpu = processCpuUs() - cpu0
  const elu = performance.eventLoopUtilization(elu0)
  return {
    ...foreign.stop(),
    emitted: i,
    t0,
    emitMs,
    doneMs,
    mainCpuUs: Number.isFinite(main) ? main : elu.utilization * doneMs * 1000,
    mainCpuSource: Number.isFinite(main) ? 'schedstat' : 'elu',
    procCpuUs: cpu,
    elu: elu.utilization,
    maxRssKiB: process.resourceUsage().maxRSS,
    client: extra,
  }
}
