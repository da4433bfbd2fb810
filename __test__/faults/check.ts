/**
 * What must hold after a schedule: for each life that ended by close or exit, the accounting
 * identity (with the spool terms) in stats() and the close report, its own view of every emit
 * answer, and its close or exit bound; over all lives, every record a server received was accepted
 * by some life and arrived exactly as emitted; with a spool, a last process that opens the dir
 * with healthy servers (the drain) reads back exactly what the last life said it left on disk.
 */
import { isDeepStrictEqual } from 'node:util'
import { identityProblems } from '../spool-helpers.js'
import type { ChildRun, Result } from './child-run.js'
import { isPoison, payload } from './rng.js'
import type { Schedule } from './schedule.js'
import type { ScriptedServer } from './servers.js'

/** Ids per life, as client-child.ts numbers them. */
export const LIFE_IDS = 10_000_000

export function check(plan: Schedule, lives: ChildRun[], servers: ScriptedServer[], drain?: ChildRun): string[] {
  const p: string[] = []
  servers.forEach((srv, i) => {
    if ((plan.servers[i].tls || plan.servers[i].auth) && srv.received.length > 0) p.push(`server ${i} (${plan.servers[i].tls ? 'TLS' : 'auth'} failure) received records`)
    if (!plan.servers[i].tls && !plan.servers[i].auth && srv.malformed.length > 0) p.push(`server ${i} got malformed requests: ${srv.malformed.slice(0, 3).join('; ')}`)
  })
  const last = lives[lives.length - 1]
  for (const run of lives.slice(0, -1)) {
    if (!run.killedAtPlan || run.signal !== 'SIGKILL') p.push(`life ${run.life} ended by itself (${run.status ?? run.signal}) before its kill: ${run.stderr.slice(-2000)}`)
  }
  p.push(...checkEnded(plan, last, 'the last life'))
  p.push(...checkReceived(plan, lives, servers))
  if (plan.client.requireAck) p.push(...checkAcked(lives, servers, drain))
  if (drain !== undefined) p.push(...checkDrain(plan, last, drain))
  return p
}

/** A life that ended by close or exit: its result, identity, emit answers and bounds. */
function checkEnded(plan: Schedule, child: ChildRun, what: string): string[] {
  const p: string[] = []
  const r = child.result
  if (child.status !== 0) p.push(`${what} exited with ${child.status ?? child.signal}: ${child.stderr.slice(-2000)}`)
  if (r === undefined) return [...p, `${what} printed no result (status ${child.status}): ${child.stderr.slice(-2000)}`]
  p.push(...r.troubles)
  // A writer panic or a malformed staged block: a bug wherever it shows.
  if ((r.errors.ERR_FLUENT_INTERNAL ?? 0) > 0) p.push(`${what}: ERR_FLUENT_INTERNAL reported ${r.errors.ERR_FLUENT_INTERNAL} time(s)`)
  const s = r.stats
  if (s === undefined) return [...p, `${what}: no stats after the end`]
  p.push(...identityProblems(`${what}: stats() after the end`, s))
  if (r.report !== undefined) p.push(...identityProblems(`${what}: close report`, r.report))
  const emitted = r.accepted.length + r.unknownAccepted
  if (s.emitted !== emitted) p.push(`${what}: stats().emitted ${s.emitted}, but emit accepted ${emitted}`)
  if (s.refused !== r.refused) p.push(`${what}: stats().refused ${s.refused}, but emit refused ${r.refused}`)
  if (r.report !== undefined || plan.end === 'close') {
    if (r.report === undefined) p.push(`${what}: close never resolved`)
    else if (s.pending !== 0) p.push(`${what}: after close resolved, stats().pending is ${s.pending}`)
    // The writer stops at the deadline (plus its margin); then the failure handler has
    // errorHandlerTimeoutMs for what it holds, and a call started just before may run its own.
    const bound = (r.closeTimeoutMs ?? plan.closeTimeoutMs) + 1500 + (plan.handler === 'none' ? 0 : 2 * plan.handlerTimeoutMs)
    if ((r.endMs ?? Infinity) > bound) p.push(`${what}: close took ${Math.round(r.endMs ?? -1)} ms, bound ${bound} ms`)
  } else {
    const exitMs = Number(plan.client.exitFlushTimeoutMs)
    const bound = exitMs + 250 + 1000
    if ((r.endMs ?? Infinity) > bound) p.push(`${what}: exit took ${Math.round(r.endMs ?? -1)} ms, bound ${bound} ms`)
  }
  return p
}

/** What each life accepted: from its result, or, for a killed life, from its progress lines. */
function acceptedBy(run: ChildRun): { accepted: Set<number>; unknown: Set<number>; unknownAccepted: number; tailFrom: number } {
  const r: Result | undefined = run.result
  if (r !== undefined) return { accepted: new Set(r.accepted), unknown: new Set(r.unknown), unknownAccepted: r.unknownAccepted, tailFrom: Infinity }
  // Killed mid-operation: ids from its last report on may have been accepted (not said how many).
  return { accepted: new Set(run.acc.accepted), unknown: new Set(run.acc.unknown), unknownAccepted: Infinity, tailFrom: Math.max(run.acc.next, run.life * LIFE_IDS) }
}

/** Every record a server received was accepted by the life whose id range it is in, and arrived as emitted. */
function checkReceived(plan: Schedule, lives: ChildRun[], servers: ScriptedServer[]): string[] {
  const p: string[] = []
  const by = lives.map(acceptedBy)
  const fromUnknown = lives.map(() => new Set<number>())
  for (const srv of servers) {
    for (const { record } of srv.received) {
      const id = Number(record.id)
      const life = Math.floor(id / LIFE_IDS)
      const a = by[life]
      const ok = a !== undefined && (a.accepted.has(id) || a.unknown.has(id) || (id >= a.tailFrom && id < (life + 1) * LIFE_IDS))
      if (!ok) {
        p.push(`a server received record ${id}, which emit never accepted (life ${life})`)
        break
      }
      if (!isDeepStrictEqual(normalize(record), payload(id, isPoison(id, plan.poison)))) {
        p.push(`record ${id} arrived altered: ${JSON.stringify(normalize(record))}`)
        break
      }
      if (a.unknown.has(id)) fromUnknown[life].add(id)
    }
  }
  by.forEach((a, life) => {
    if (fromUnknown[life].size > a.unknownAccepted) p.push(`life ${life}: ${fromUnknown[life].size} records of refusing emitMany calls arrived, only ${a.unknownAccepted} were accepted`)
  })
  return p
}

/**
 * With acks, every record a process counted as sent was acknowledged by a server that holds it.
 * Where a process ended by close with no event lost, this is checked record by record: its
 * 'delivered' events add up to `sent`, and each id is held by the server that acked it. Where it
 * exited instead (events after 'exit' never reach JS), only a count is left: `sent` may not pass
 * the distinct records the servers hold. That bound is exact only with one life: a SIGKILLed life
 * may leave two copies of records on disk (a failing batch's halves are stored anew and the whole
 * settled, and the kill can come before the ledger says so), which the next lives send, and count,
 * twice (at least once across a crash, as the spool promises).
 */
function checkAcked(lives: ChildRun[], servers: ScriptedServer[], drain?: ChildRun): string[] {
  const p: string[] = []
  const last = lives[lives.length - 1]
  const held = new Map(servers.map((s) => [`${s.host}:${s.port}`, new Set(s.received.map((r) => Number(r.record.id)))]))
  let countOnly = 0
  for (const [what, run] of [['the last life', last], ['the drain', drain]] as const) {
    const r = run?.result
    if (r?.stats === undefined) continue
    if (r.report === undefined || r.delivered === undefined || r.stats.eventsLost !== 0) {
      countOnly += r.stats.sent
      continue
    }
    if (r.deliveredRecords !== r.stats.sent) p.push(`${what}: 'delivered' events carried ${r.deliveredRecords} records, stats().sent is ${r.stats.sent}`)
    for (const [server, ids] of Object.entries(r.delivered)) {
      const has = held.get(server)
      const missing = ids.filter((id) => !has?.has(id))
      if (missing.length > 0) p.push(`${what}: ${missing.length} record(s) acknowledged by ${server} are not there (${has === undefined ? 'no such server' : `first ${missing.slice(0, 5).join(', ')}`})`)
    }
  }
  if (countOnly > 0 && lives.length === 1) {
    const unique = new Set([...held.values()].flatMap((ids) => [...ids])).size
    if (unique < countOnly) p.push(`sent ${countOnly} acknowledged records, the servers hold ${unique} distinct ones`)
  }
  return p
}

/** The drain (a fresh process, healthy servers) reads back what the last life left on disk, and delivers it. */
function checkDrain(plan: Schedule, last: ChildRun, drain: ChildRun): string[] {
  const p = checkEnded({ ...plan, end: 'close', handler: 'none' }, drain, 'the drain')
  const left = last.result?.report ?? last.result?.stats
  const spooled = left?.spooled
  const replayed = drain.result?.report?.replayed
  if (typeof spooled !== 'number' || typeof replayed !== 'number') return [...p, `drain: spooled ${spooled} (last life), replayed ${replayed} (drain)`]
  // A segment file deleted in the last life may have taken records the client still counted as on disk.
  const deleted = last.done.some((d) => d.includes('deleted'))
  // Leftover files the last life had not read yet are in none of its counts: the drain reads them too.
  const unread = last.result?.stats?.spool?.unreadFiles ?? 0
  if (deleted ? unread === 0 && replayed > spooled : unread > 0 ? replayed < spooled : replayed !== spooled) {
    p.push(`the last life left ${spooled} records on disk (and ${unread} unread leftover file(s)), the drain read back ${replayed}`)
  }
  const r = drain.result?.report
  if (r !== undefined && (r.spooled !== 0 || r.pending !== 0)) p.push(`the drain, with healthy servers, still left ${r.spooled} on disk and ${r.pending} pending`)
  return p
}

/** The decoded record in the form `payload` builds (msgpack gives BigInt for none of these). */
function normalize(record: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)))
}
