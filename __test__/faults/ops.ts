/**
 * Client operations, drawn from the schedule's seed in the child process: a table of small
 * functions, each given the context and the generator. Add an operation by adding an entry.
 */
import { encode } from '@msgpack/msgpack'
import type { FluentClient } from '../../index.js'
import { isPoison, payload } from './rng.js'
import type { Rng } from './rng.js'

export interface OpContext {
  client: FluentClient
  poison: boolean
  nextId: number
  /** Ids emit said it accepted. */
  accepted: number[]
  /** Records emit refused (false, or ERR_FLUENT_QUEUE_FULL under 'error'). */
  refused: number
  /** Ids from an emitMany that refused some: which ones were taken is not said, only how many. */
  unknown: number[]
  unknownAccepted: number
  tags: string[]
  /** Promises the schedule must see settle (flushes): each is caught, never left unhandled. */
  waits: Promise<unknown>[]
  /** A close started by the `close` operation, mid-schedule: later operations meet a closed client. */
  closing?: { promise: Promise<unknown>; started: number; timeoutMs: number; ended?: number }
  /** Time the operations kept the JS thread busy since the close started (the close cannot settle meanwhile). */
  busyWhileClosing: number
  log: string[]
}

function record(ctx: OpContext): Record<string, unknown> {
  const id = ctx.nextId++
  return payload(id, isPoison(id, ctx.poison))
}

function one(ctx: OpContext, rec: Record<string, unknown>, send: () => boolean): void {
  try {
    if (send()) ctx.accepted.push(rec.id as number)
    else ctx.refused++
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_FLUENT_QUEUE_FULL') throw e
    ctx.refused++
  }
}

/** Keeps the JS thread busy: the writer keeps going and must never lose a record because of it. */
function busy(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // spin
  }
}

export type Op = (ctx: OpContext, rng: Rng) => void | Promise<void>

export const OPS: Record<string, { weight: number; run: Op }> = {
  burst: {
    weight: 6,
    run(ctx, rng) {
      const n = rng.int(1, 2000)
      const tags = rng.int(1, Math.min(ctx.tags.length, 1000))
      for (let i = 0; i < n; i++) {
        const tag = ctx.tags[rng.int(0, tags - 1)]
        const rec = record(ctx)
        one(ctx, rec, () => ctx.client.emit(tag, rec))
      }
    },
  },
  emitMany: {
    weight: 2,
    run(ctx, rng) {
      const tag = rng.pick(ctx.tags)
      const recs = Array.from({ length: rng.int(1, 500) }, () => record(ctx))
      const r = ctx.client.emitMany(tag, recs)
      // Which ones were refused is not said per index (only errors are); under every policy but
      // 'error' a refusal means none after it fit either, unless room came meanwhile: count them.
      const failed = new Set(r.errors.map((e) => e.index))
      if (r.accepted + r.dropped !== recs.length) throw new Error(`emitMany: ${r.accepted} + ${r.dropped} != ${recs.length}`)
      if (r.dropped === 0) for (const rec of recs) ctx.accepted.push(rec.id as number)
      else {
        ctx.refused += r.dropped
        ctx.unknown.push(...recs.filter((_, i) => !failed.has(i)).map((rec) => rec.id as number))
        ctx.unknownAccepted += r.accepted
      }
    },
  },
  emitRaw: {
    weight: 2,
    run(ctx, rng) {
      const n = rng.int(1, 200)
      for (let i = 0; i < n; i++) {
        const tag = rng.pick(ctx.tags)
        const rec = record(ctx)
        const bytes = encode(rec)
        one(ctx, rec, () => ctx.client.emitRaw(tag, bytes))
      }
    },
  },
  flush: {
    weight: 1,
    run(ctx, rng) {
      ctx.waits.push(ctx.client.flush({ timeoutMs: rng.int(1, 3000) }).catch(() => {}))
    },
  },
  close: {
    weight: 0.1,
    run(ctx, rng) {
      if (ctx.closing !== undefined) return
      const timeoutMs = rng.int(0, 3000)
      const closing: NonNullable<OpContext['closing']> = { promise: ctx.client.close({ timeoutMs }), started: performance.now(), timeoutMs }
      closing.promise.then(() => (closing.ended = performance.now()))
      ctx.closing = closing
    },
  },
  stats: {
    weight: 1,
    run(ctx) {
      ctx.client.stats()
    },
  },
  busy: {
    weight: 2,
    run(ctx, rng) {
      const ms = rng.chance(0.2) ? rng.int(500, 3000) : rng.int(1, 300)
      busy(ms)
      if (ctx.closing !== undefined) ctx.busyWhileClosing += ms
    },
  },
  sleep: {
    weight: 3,
    async run(_ctx, rng) {
      await new Promise((resolve) => setTimeout(resolve, rng.int(1, 600)))
    },
  },
}
