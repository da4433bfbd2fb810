/**
 * The references that send nothing (contenders.ts IDLE, BUILD, SPIN): the idle loop, records built
 * and not sent, and the CPU stand-in that builds each record and then busy-waits.
 */
import type { Client } from './client.ts'

/** The last record built, kept so that the optimizer cannot drop the allocation. */
let built: object | undefined
/** The busy work's running value, kept so that the optimizer cannot drop the loop. */
let spun = 0

/** The idle loop: emit does nothing, so the optimizer may drop the records. */
export function idleClient(): Client {
  return {
    emit() {},
    emitLast() {},
    async finish() {
      return {}
    },
    async close() {},
  }
}

/** Records built and stored in a module variable, then left to the GC; nothing is logged. */
export function buildClient(): Client {
  return {
    emit(record) {
      built = record
    },
    emitLast() {},
    async finish() {
      return { last: built === undefined ? 0 : 1 }
    },
    async close() {},
  }
}

/** `iters` steps of busy work: the same loop is timed by `spinRate` and run per record. */
function spin(iters: number): void {
  let x = spun
  for (let i = 0; i < iters; i++) x = (Math.imul(x, 1103515245) + 12345) | 0
  spun = x
}

/** Busy-work iterations per ns on this thread, measured once (about 50 ms). */
function spinRate(): number {
  let iters = 1 << 16
  for (;;) {
    const t0 = process.cpuUsage()
    spin(iters)
    const us = process.cpuUsage(t0)
    const ns = (us.user + us.system) * 1000
    if (ns >= 50e6) return iters / ns
    iters *= 2
  }
}

/** The CPU stand-in: each record built (as buildClient), then `spinNs` of busy work on this thread. */
export function spinClient(spinNs: number): Client {
  const iters = Math.max(1, Math.round(spinNs * spinRate()))
  return {
    emit(record) {
      built = record
      spin(iters)
    },
    emitLast() {},
    async finish() {
      return { last: built === undefined ? 0 : 1, spinNs, itersPerRecord: iters, spun: spun & 1 }
    },
    async close() {},
  }
}
