/**
 * Runs one schedule: starts its servers, plays each server's fault timeline while the client child
 * runs, then checks what happened (check.ts). With a spool (spool-plan.ts), the child may live
 * several times on one spool dir, each life but the last SIGKILLed at its moment (a torn tail may
 * be left between two lives, segment files deleted during one), and a last process, the drain,
 * opens the dir with healthy servers once the timelines are over. Returns the problems found
 * (empty: the schedule passed) and a few figures.
 */
import { check } from './check.js'
import { runChild } from './child-run.js'
import type { ChildRun } from './child-run.js'
import { SpoolDisk } from './disk.js'
import { draw, faultsOf } from './schedule.js'
import type { Schedule } from './schedule.js'
import { ScriptedServer } from './servers.js'
import { FLEET_NAME } from './schedule.js'
import { Hosts, namespaceUnavailable } from '../dns/namespace.js'

export interface Outcome {
  seed: number
  problems: string[]
  faults: string[]
  ms: number
  records: number
  /** Error codes the client reported, with counts. */
  errors: Record<string, number>
}

/** The drain's close deadline: long enough to deliver what any schedule leaves on disk. */
const DRAIN_CLOSE_MS = 20_000

export async function runSeed(seed: number): Promise<Outcome> {
  const plan = draw(seed)
  const started = performance.now()
  if (plan.dns !== undefined) {
    const why = namespaceUnavailable()
    if (why !== undefined) return { seed, problems: [why], faults: faultsOf(plan), ms: 0, records: 0, errors: {} }
  }
  // A DNS fleet's members each have their own loopback address, on one port (the entry's).
  const host = (i: number) => (plan.dns === undefined ? undefined : `127.0.0.${10 + i}`)
  const servers = plan.servers.map((p, i) => new ScriptedServer({ refuseAuth: p.auth, host: host(i) }))
  for (const s of servers) await s.start(plan.dns === undefined ? 0 : servers[0].port)
  const ports = servers.map((s) => s.port)
  const hosts = plan.dns === undefined ? undefined : new Hosts(FLEET_NAME)
  const everyone = servers.map((s) => s.host)
  hosts?.set(everyone)
  // The client child, in a private mount namespace that sees the fleet's hosts file as /etc/hosts.
  const withHosts = (wrap: string[]): string[] =>
    hosts === undefined ? wrap : [...wrap, 'unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts.path]
  let disk: SpoolDisk | undefined
  const lives: ChildRun[] = []
  let drain: ChildRun | undefined
  const problems: string[] = []
  let running = true
  const timelines = plan.servers.map(async (p, i) => {
    for (const [fault, ms] of p.timeline) {
      if (!running) break
      await servers[i].set(fault)
      await sleepWhile(ms, () => running)
    }
    if (running) await servers[i].set('healthy')
  })
  // Members removed and added at random moments: the name's answer follows the DNS timeline.
  const membership = (async () => {
    if (hosts === undefined || plan.dns === undefined) return
    for (const [members, ms] of plan.dns.timeline) {
      if (!running) break
      hosts.set(members.map((i) => servers[i].host))
      await sleepWhile(ms, () => running)
    }
    hosts.set(everyone)
  })()
  try {
    if (plan.spool === undefined) lives.push(await runChild(plan, { life: 0, ports, during: [], wrap: withHosts([]) }))
    else {
      disk = await SpoolDisk.open(plan.spool)
      const d = disk
      for (const [life, l] of plan.spool.lives.entries()) {
        const during = l.deletes.map(({ atMs, pick }) => ({
          atMs,
          run: () => {
            const f = d.deleteOne(pick)
            return f === undefined ? undefined : `deleted ${f}`
          },
        }))
        const run = await runChild(plan, { life, ports, spoolDir: d.dir, killAtMs: l.killAtMs, during, wrap: withHosts(d.wrap) })
        if (l.tearBytes !== undefined) {
          const torn = d.tear(l.tearBytes)
          if (torn !== undefined) run.done.push(`after the kill: tore ${torn}`)
        }
        lives.push(run)
      }
    }
  } catch (e) {
    problems.push(`the schedule could not run: ${(e as Error).stack ?? e}`)
  }
  running = false
  await Promise.all([...timelines, membership])
  // The drain's premise is healthy servers: a timeline cut short by the end of the lives leaves its
  // server in its last fault (a refusing server made seed 5052's drain fail to connect at all).
  if (disk !== undefined && problems.length === 0) {
    for (const s of servers) await s.set('healthy')
    drain = await runDrain(plan, servers, disk, withHosts(disk.wrap))
  }
  hosts?.remove()
  for (const s of servers) await s.close()
  await disk?.close()
  if (lives.length > 0) problems.push(...check(plan, lives, servers, drain))
  // Say what was done to the disk: a failure is read with it.
  if (problems.length > 0) {
    for (const l of lives) if (l.done.length > 0) problems.push(`(life ${l.life}: ${l.done.join('; ')})`)
    for (const l of [...lives, ...(drain ? [drain] : [])]) {
      const r = l.result
      if (r !== undefined) problems.push(`(life ${l.life}: errors ${JSON.stringify(r.errors)}, ops ${(r as { ops?: string[] }).ops?.join(' ')}, stats ${JSON.stringify({ ...r.stats, servers: undefined })})`)
    }
  }
  const records = lives.reduce((n, l) => n + (l.result?.accepted.length ?? l.acc.accepted.length), 0)
  const errors: Record<string, number> = {}
  for (const l of [...lives, ...(drain ? [drain] : [])]) for (const [k, v] of Object.entries(l.result?.errors ?? {})) errors[k] = (errors[k] ?? 0) + v
  return { seed, problems, faults: faultsOf(plan), ms: performance.now() - started, records, errors }
}

/**
 * A fresh process on the spool dir once every server is healthy: no operations, acks on, only the
 * servers it can reach, a long close deadline. What it reads back is checked against what the last
 * life said it left.
 */
async function runDrain(plan: Schedule, servers: ScriptedServer[], disk: SpoolDisk, wrap: string[]): Promise<ChildRun | undefined> {
  const usable = plan.servers.map((s, i) => ({ s, port: servers[i].port })).filter(({ s }) => !s.tls && !s.auth)
  // Every server of this schedule refuses the client (TLS or key): nothing can drain it.
  if (usable.length === 0) return undefined
  const drainPlan: Schedule = {
    ...plan,
    // All regular: the only reachable server may have been this schedule's standby.
    servers: usable.map(({ s }) => ({ ...s, standby: false, timeline: [] })),
    client: { ...plan.client, requireAck: true },
    handler: 'none',
    ops: 0,
    end: 'close',
    closeTimeoutMs: DRAIN_CLOSE_MS,
  }
  const life = plan.spool!.lives.length
  return runChild(drainPlan, { life, ports: usable.map((u) => u.port), spoolDir: disk.dir, during: [], wrap })
}

function sleepWhile(ms: number, cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const until = Date.now() + ms
    const tick = () => (!cond() || Date.now() >= until ? resolve() : setTimeout(tick, Math.min(50, until - Date.now())))
    tick()
  })
}
