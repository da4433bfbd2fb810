/**
 * One fault schedule, drawn from a seed: the servers (1 to 3, weights, maybe a standby, maybe one
 * the client reaches with TLS while it speaks plaintext), each server's fault timeline, the
 * client's options and failure handler, and how the client ends (close at a random moment with a
 * random timeout, or process exit). Some schedules make the servers a fleet found through DNS
 * (`dns`): one `resolve: 'all'` entry whose name resolves, over time, to a changing subset of the
 * servers (members removed and added at random moments). The parent draws it, runs the servers and the timelines, and
 * hands the rest to the child (client-child.ts) as JSON; the child draws its operations from the
 * same seed.
 */
import { FAULTS } from './servers.js'
import type { FaultName } from './servers.js'
import { Rng } from './rng.js'
import { drawSpool, spoolFaultsOf } from './spool-plan.js'
import type { SpoolPlan } from './spool-plan.js'

export const HANDLERS = ['none', 'true', 'false', 'throws', 'slow', 'never', 'mixed'] as const
export type HandlerKind = (typeof HANDLERS)[number]

export interface ServerPlan {
  weight: number
  standby: boolean
  /** The client is told to use TLS with this plaintext server: every attempt fails. */
  tls: boolean
  /** This server refuses the client's shared key in the handshake: every attempt fails. */
  auth: boolean
  /** The fault timeline: each fault for `ms`, then the next; healthy after the last. */
  timeline: Array<[FaultName, number]>
}

/** The name of a DNS fleet, in the child's own /etc/hosts (`dns/namespace.ts`). */
export const FLEET_NAME = 'fleet.faults.test'

/** A fleet found through DNS: the servers are the addresses of one name (`resolve: 'all'`). */
export interface DnsPlan {
  dnsTtlMs: number
  /** Which servers (by index) the name resolves to, each set for `ms`; all of them after the last. */
  timeline: Array<[number[], number]>
}

export interface Schedule {
  seed: number
  servers: ServerPlan[]
  dns?: DnsPlan
  client: Record<string, unknown>
  handler: HandlerKind
  handlerTimeoutMs: number
  /** Operations the child draws and runs before it ends. */
  ops: number
  tags: number
  poison: boolean
  end: 'close' | 'exit'
  closeTimeoutMs: number
  /** The durable spool and its disk faults (issue 27), or none; see spool-plan.ts. */
  spool?: SpoolPlan
}

/** How much each fault is drawn; `healthy` most, so that records also get through. */
const FAULT_WEIGHTS: Record<FaultName, number> = {
  healthy: 6,
  refuse: 2,
  acceptClose: 1,
  stall: 1,
  slowRead: 1,
  neverAck: 1,
  wrongAck: 1,
  garbage: 1,
  poison: 1,
}

export function draw(seed: number): Schedule {
  const rng = new Rng(seed)
  const n = rng.int(1, 3)
  const servers: ServerPlan[] = []
  for (let i = 0; i < n; i++) {
    const timeline: Array<[FaultName, number]> = []
    const segments = rng.int(0, 5)
    for (let j = 0; j < segments; j++) timeline.push([rng.weighted(FAULT_WEIGHTS), rng.int(50, 3000)])
    const broken = n > 1 && rng.chance(0.2)
    const tls = broken && rng.chance(0.5)
    servers.push({
      weight: rng.int(1, 100),
      standby: n > 1 && i === n - 1 && rng.chance(0.3),
      tls,
      auth: broken && !tls,
      timeline,
    })
  }
  const requireAck = rng.chance(0.6)
  const client: Record<string, unknown> = {
    requireAck,
    overflow: rng.pick(['dropNewest', 'dropOldest', 'error']),
    maxBufferBytes: rng.pick([16 << 10, 64 << 10, 256 << 10, 1 << 20, 8 << 20]),
    maxRecordBytes: 8 << 10,
    flushIntervalMs: rng.int(1, 200),
    ackTimeoutMs: rng.int(200, 2000),
    writeTimeoutMs: rng.int(300, 3000),
    connectTimeoutMs: rng.int(200, 2000),
    exitFlushTimeoutMs: rng.int(100, 2000),
    maxBatchAttempts: rng.int(1, 4),
    mode: rng.pick(['packedForward', 'packedForward', 'forward', 'message']),
  }
  const handler = rng.pick(HANDLERS)
  void FAULTS
  const schedule: Schedule = {
    seed,
    servers,
    client,
    handler,
    handlerTimeoutMs: rng.int(50, 500),
    ops: rng.int(5, 40),
    tags: rng.pick([1, 3, 50, 1000]),
    poison: rng.chance(0.3),
    end: rng.chance(0.7) ? 'close' : 'exit',
    closeTimeoutMs: rng.int(0, 3000),
    // From its own stream: the draws above stay what they were before the spool existed.
    spool: drawSpool(new Rng(seed).fork(0x5b001)),
  }
  // Drawn from a sub-stream after everything else, so that a schedule without it is unchanged.
  const dns = rng.fork(0xd25)
  if (n > 1 && dns.chance(0.35)) {
    const timeline: Array<[number[], number]> = []
    const segments = dns.int(1, 5)
    for (let j = 0; j < segments; j++) {
      // Sometimes no address at all: the lookup fails, and the members it had must keep serving.
      const members = dns.chance(0.1) ? [] : servers.map((_, i) => i).filter(() => dns.chance(0.6))
      timeline.push([members, dns.int(50, 3000)])
    }
    schedule.dns = { dnsTtlMs: dns.pick([100, 250, 1000]), timeline }
    // One entry has one weight, one TLS and one handshake setting for all its members.
    for (const s of servers) Object.assign(s, { standby: false, tls: false, auth: false })
  }
  return schedule
}

/** The faults a schedule draws (for the long run's figures). */
export function faultsOf(s: Schedule): string[] {
  const disk = s.spool === undefined ? [] : ['spool', ...spoolFaultsOf(s.spool)]
  const membership = s.dns === undefined ? [] : s.dns.timeline.map(([m]) => `dns[${m.join('')}]`)
  return [...s.servers.flatMap((p) => [...p.timeline.map(([f]) => f as string), ...(p.tls ? ['tls'] : []), ...(p.auth ? ['auth'] : [])]), ...membership, ...disk]
}
