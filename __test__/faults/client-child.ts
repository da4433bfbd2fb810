/**
 * The client side of one fault schedule, in its own process: the servers stay in the parent, so
 * this JS thread can be kept busy for seconds while they keep serving, and a crash, an unhandled
 * rejection or an exit that overruns its bound shows as this process's exit. Prints one line,
 * `RESULT {json}`, with what it saw: every id emit accepted, the close report, `stats()` after the
 * end, how long the close or the exit took.
 *
 * With a spool, a schedule may run several lives of this process on one spool dir, all but the
 * last SIGKILLed by the parent (spool-plan.ts). Each life has its own operations and its own id
 * range, and prints `ACC {json}` after every operation (the ids it accepted meanwhile), so that
 * what a killed life accepted is known up to its last operation. A life to be killed idles after
 * its operations until the kill comes.
 */
import { FluentClient } from '../../index.js'
import type { CloseReport, FluentStats } from '../../index.js'
import { OPS } from './ops.js'
import type { OpContext } from './ops.js'
import { Rng } from './rng.js'
import type { Schedule } from './schedule.js'
import { FLEET_NAME } from './schedule.js'
import { writeSync } from 'node:fs'

const plan = JSON.parse(process.argv[2]) as Schedule & { ports: number[]; life: number; spoolDir?: string; killed: boolean }
const troubles: string[] = []
process.on('unhandledRejection', (e) => {
  troubles.push(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`)
})
process.on('uncaughtException', (e) => {
  troubles.push(`uncaught exception: ${e?.stack ?? String(e)}`)
  // Also on stderr: one thrown before the result is printed (the constructor) is seen only there.
  writeSync(2, `uncaught exception: ${e?.stack ?? String(e)}\n`)
  process.exitCode = 3
})

// Life 0 draws what the schedule drew before lives existed; a restart draws its own operations.
const rng = new Rng(plan.seed).fork(0x0c11e47 + plan.life)
let handlerCalls = 0
/** Ids per life (a life accepts far fewer records than this). */
const LIFE_IDS = 10_000_000
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function answer(kind: string): boolean | Promise<boolean> {
  switch (kind) {
    case 'true':
      return true
    case 'false':
      return false
    case 'throws':
      throw new Error('handler fault')
    case 'slow':
      return sleep(rng.int(0, plan.handlerTimeoutMs * 2)).then(() => true)
    case 'never':
      return new Promise<boolean>(() => {})
    default:
      return answer(rng.pick(['true', 'false', 'throws', 'slow', 'never']))
  }
}

// A DNS fleet: one entry whose name the parent resolves through the namespace's /etc/hosts.
const dnsFleet = plan.dns === undefined ? undefined : [{ host: FLEET_NAME, port: plan.ports[0], resolve: 'all', weight: plan.servers[0].weight }]
const options: Record<string, unknown> = {
  ...plan.client,
  ...(plan.dns === undefined ? {} : { dnsTtlMs: plan.dns.dnsTtlMs }),
  servers: dnsFleet ?? plan.servers.map((s, i) => ({
    host: '127.0.0.1',
    port: plan.ports[i],
    weight: s.weight,
    standby: s.standby,
    ...(s.tls ? { tls: { rejectUnauthorized: false } } : {}),
    ...(s.auth ? { security: { sharedKey: 'not-the-key', clientHostname: 'fault-client' } } : {}),
  })),
  errorHandlerTimeoutMs: plan.handlerTimeoutMs,
}
if (plan.spool !== undefined) {
  options.spool = { dir: plan.spoolDir, maxBytes: plan.spool.maxBytes, syncIntervalMs: plan.spool.syncIntervalMs }
}
if (plan.handler !== 'none') {
  options.errorHandler = () => {
    handlerCalls++
    return answer(plan.handler)
  }
}
const client = new FluentClient(options as never)
const errors: Record<string, number> = {}
client.on('error', (err) => {
  errors[err.code] = (errors[err.code] ?? 0) + 1
})

/**
 * With acks: the id of every record the client said a server acknowledged ('delivered'), by that
 * server's address. The parent checks each one against what that server holds (check.ts).
 */
const delivered: Record<string, number[]> = {}
let deliveredRecords = 0
if (plan.client.requireAck === true) {
  client.on('delivered', (batch) => {
    deliveredRecords += batch.count
    const ids = (delivered[batch.server] ??= [])
    for (const r of batch.records) ids.push(Number(r.record.id))
  })
}

const ctx: OpContext = {
  client,
  poison: plan.poison,
  // Ids never repeat across lives: a record received can be traced to the life that accepted it.
  nextId: plan.life * LIFE_IDS,
  accepted: [],
  refused: 0,
  unknown: [],
  unknownAccepted: 0,
  tags: Array.from({ length: plan.tags }, (_, i) => `fault.t${i}`),
  waits: [],
  log: [],
  busyWhileClosing: 0,
}
const names = Object.keys(OPS)
const weights = Object.fromEntries(names.map((n) => [n, OPS[n].weight]))

interface Result {
  accepted: number[]
  refused: number
  unknown: number[]
  unknownAccepted: number
  report?: CloseReport
  stats?: FluentStats
  endMs?: number
  closeTimeoutMs?: number
  handlerCalls: number
  errors: Record<string, number>
  troubles: string[]
  ops: string[]
  delivered: Record<string, number[]>
  deliveredRecords: number
}

/**
 * One line to the parent, whole and synchronously (it may be written inside 'exit'). stdout is a
 * non-blocking pipe: one `writeSync` of a line longer than the pipe holds writes part of it (a
 * RESULT line with every id is hundreds of KiB), so the rest is written as the parent reads.
 */
function writeLine(text: string): void {
  const bytes = Buffer.from(`${text}\n`)
  for (let off = 0; off < bytes.length; ) {
    try {
      off += writeSync(1, bytes, off)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e
    }
  }
}

function result(extra: Partial<Result>): void {
  const r: Result = {
    accepted: ctx.accepted,
    refused: ctx.refused,
    unknown: ctx.unknown,
    unknownAccepted: ctx.unknownAccepted,
    handlerCalls,
    errors,
    troubles,
    ops: ctx.log,
    delivered,
    deliveredRecords,
    ...extra,
  }
  // Synchronously: this may run inside 'exit', where no later tick comes.
  writeLine(`RESULT ${JSON.stringify(r)}`)
}

/** What the operations accepted since the last report, for the parent (a kill may come at any moment). */
let reported = { accepted: 0, unknown: 0 }
function reportProgress(): void {
  if (plan.spool === undefined) return
  const a = ctx.accepted.slice(reported.accepted)
  const u = ctx.unknown.slice(reported.unknown)
  reported = { accepted: ctx.accepted.length, unknown: ctx.unknown.length }
  writeLine(`ACC ${JSON.stringify({ a, u, next: ctx.nextId })}`)
}

async function main(): Promise<void> {
  const ops = plan.life === 0 ? plan.ops : Math.ceil(plan.ops / 2)
  for (let i = 0; i < ops; i++) {
    const name = rng.weighted(weights)
    ctx.log.push(name)
    await OPS[name].run(ctx, rng)
    reportProgress()
  }
  if (plan.killed) {
    // The parent SIGKILLs this life at its moment; until then the writer keeps working.
    await new Promise<never>(() => {})
  }
  if (plan.end === 'exit' && ctx.closing === undefined) {
    // The package's own 'exit' listener (registered when it loaded) drains first; this one runs after.
    const start = performance.now()
    process.on('exit', () => result({ stats: client.stats(), endMs: performance.now() - start }))
    process.exit(0)
  }
  // A close the operations started mid-schedule is the one that counts; else close now.
  ctx.closing ??= { promise: client.close({ timeoutMs: plan.closeTimeoutMs }), started: performance.now(), timeoutMs: plan.closeTimeoutMs }
  const report = (await ctx.closing.promise) as CloseReport
  // The operations may have kept this thread busy after a mid-schedule close: not the close's time.
  const endMs = (ctx.closing.ended ?? performance.now()) - ctx.closing.started - ctx.busyWhileClosing
  // Emits after close are refused and counted.
  for (let i = 0; i < 3; i++) {
    const id = ctx.nextId++
    if (client.emit('fault.after', { id })) ctx.accepted.push(id)
    else ctx.refused++
  }
  await Promise.all(ctx.waits)
  // 'delivered' events travel apart from the close's answer: let the last ones arrive (bounded).
  const sent = client.stats().sent
  for (let waited = 0; plan.client.requireAck === true && deliveredRecords < sent && waited < 2000; waited += 10) await sleep(10)
  result({ report, stats: client.stats(), endMs, closeTimeoutMs: ctx.closing.timeoutMs })
}

// An idle client never keeps a process alive, on purpose; this schedule must run to its end.
const alive = setInterval(() => {}, 1000)
main()
  .catch((e) => {
    troubles.push(`main threw: ${(e as Error)?.stack ?? String(e)}`)
    result({})
  })
  .finally(() => clearInterval(alive))
