/**
 * What the driver (index.ts) and a child (worker.ts) say to each other: the run's config goes in the
 * BENCH_CHILD environment variable as JSON (ChildConfig), the outcome comes back on stdout as one
 * line `@@BENCH {json}` (`type: 'result'` or `type: 'error'`). Everything else the client libraries
 * print is passed through by the driver.
 */
import { writeSync } from 'node:fs'

import type { Shape } from '../src/cli/shapes.js'

export interface ChildConfig {
  contender: string
  shape: Shape
  phase: 'throughput' | 'paced'
  host: string
  port: number
  benchDir: string
  /** throughput: events to send. */
  events: number
  /** throughput: events per event-loop turn. */
  chunk: number
  /** For the foreign-load check: CPU that is neither this process's nor the sink's. */
  sinkPid: number
  /** paced: target events/s, warm-up and measured time. */
  rate: number
  warmupMs: number
  measureMs: number
  /**
   * paced: CPU placement (Linux, 2+ CPUs). The main thread alone on CPU 0; every other thread of this
   * process (the writer, V8's helpers) on CPU 1, where the driver has already put the sink and itself.
   */
  pin?: boolean
  /** The spin contender: main-thread ns to busy-wait per record. */
  spinNs?: number
}

/** The start of the child's one line for the driver. */
export const MARK = '@@BENCH '

export function send(msg: object): void {
  // Synchronous, so the line is out before anything else happens.
  writeSync(1, `\n${MARK}${JSON.stringify(msg)}\n`)
}
