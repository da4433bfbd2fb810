/**
 * Runs one schedule: starts its servers, starts the client child, plays each server's fault
 * timeline while the child runs, then checks what happened. Returns the problems found (empty:
 * the schedule passed) and a few figures.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import { isPoison, payload } from './rng.js'
import { draw, faultsOf } from './schedule.js'
import type { Schedule } from './schedule.js'
import { ScriptedServer } from './servers.js'
import { FLEET_NAME } from './schedule.js'
import { Hosts, namespaceUnavailable } from '../dns/namespace.js'

const CHILD = fileURLToPath(new URL('./client-child.ts', import.meta.url))
/** A schedule's child is killed after this: a hang is a failure, never a stuck test run. */
const HARD_LIMIT_MS = 120_000

export interface Outcome {
  seed: number
  problems: string[]
  faults: string[]
  ms: number
  records: number
  /** Error codes the client reported, with counts. */
  errors: Record<string, number>
}

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
  const hosts = plan.dns === undefined ? undefined : new Hosts(FLEET_NAME)
  const everyone = servers.map((s) => s.host)
  hosts?.set(everyone)
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
  const child = await runChild(plan, servers.map((s) => s.port), hosts?.path)
  running = false
  await Promise.all([...timelines, membership])
  hosts?.remove()
  for (const s of servers) await s.close()
  const problems = check(plan, child, servers)
  const records = child.result?.accepted.length ?? 0
  return { seed, problems, faults: faultsOf(plan), ms: performance.now() - started, records, errors: child.result?.errors ?? {} }
}

function sleepWhile(ms: number, cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const until = Date.now() + ms
    const tick = () => (!cond() || Date.now() >= until ? resolve() : setTimeout(tick, Math.min(50, until - Date.now())))
    tick()
  })
}

interface Child {
  status: number | null
  signal: string | null
  stderr: string
  result?: {
    accepted: number[]
    refused: number
    unknown: number[]
    unknownAccepted: number
    report?: Record<string, number>
    stats?: Record<string, number>
    endMs?: number
    closeTimeoutMs?: number
    handlerCalls: number
    errors: Record<string, number>
    troubles: string[]
  }
}

/** The client child; with `hostsFile`, in a private mount namespace that sees it as /etc/hosts. */
function runChild(plan: Schedule, ports: number[], hostsFile?: string): Promise<Child> {
  const node = [process.execPath, '--import', '@oxc-node/core/register', CHILD, JSON.stringify({ ...plan, ports })]
  const [cmd, ...args] = hostsFile === undefined ? node : ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, ...node]
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OXC_TSCONFIG_PATH: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), HARD_LIMIT_MS)
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))
      resolve({ status, signal, stderr, result: line === undefined ? undefined : JSON.parse(line.slice(7)) })
    })
  })
}

const TERMS = ['sent', 'dropped', 'rejected', 'handled', 'pending'] as const

/** `emitted + refused = sent + dropped + rejected + handled + pending`, or what is off. */
function identity(what: string, r: Record<string, number>): string[] {
  const left = r.emitted + r.refused
  const right = TERMS.reduce((n, k) => n + r[k], 0)
  if (TERMS.some((k) => typeof r[k] !== 'number') || left !== right) {
    const terms = ['emitted', 'refused', ...TERMS].map((k) => `${k} ${r[k]}`).join(', ')
    return [`${what}: emitted + refused = ${left} but the buckets sum to ${right} (${terms})`]
  }
  return []
}

function check(plan: Schedule, child: Child, servers: ScriptedServer[]): string[] {
  const p: string[] = []
  const r = child.result
  if (child.status !== 0) p.push(`child exited with ${child.status ?? child.signal}: ${child.stderr.slice(-2000)}`)
  servers.forEach((srv, i) => {
    if ((plan.servers[i].tls || plan.servers[i].auth) && srv.received.length > 0) p.push(`server ${i} (${plan.servers[i].tls ? 'TLS' : 'auth'} failure) received records`)
  })
  if (r === undefined) return [...p, `the child printed no result (status ${child.status}): ${child.stderr.slice(-2000)}`]
  p.push(...r.troubles)
  // A writer panic or a malformed staged block: a bug wherever it shows.
  if ((r.errors.ERR_FLUENT_INTERNAL ?? 0) > 0) p.push(`ERR_FLUENT_INTERNAL reported ${r.errors.ERR_FLUENT_INTERNAL} time(s)`)
  const s = r.stats
  if (s === undefined) return [...p, 'no stats after the end']
  p.push(...identity('stats() after the end', s))
  if (r.report !== undefined) p.push(...identity('close report', r.report))
  // The child's own view of every emit answer.
  const emitted = r.accepted.length + r.unknownAccepted
  if (s.emitted !== emitted) p.push(`stats().emitted ${s.emitted}, but emit accepted ${emitted}`)
  if (s.refused !== r.refused) p.push(`stats().refused ${s.refused}, but emit refused ${r.refused}`)
  // Every record a server received was accepted, and arrived exactly as emitted.
  const accepted = new Set(r.accepted)
  const unknown = new Set(r.unknown)
  const unique = new Set<number>()
  let fromUnknown = 0
  for (const srv of servers) {
    for (const { record } of srv.received) {
      const id = Number(record.id)
      if (!accepted.has(id) && !unknown.has(id)) {
        p.push(`a server received record ${id}, which emit never accepted`)
        break
      }
      if (!isDeepStrictEqual(normalize(record), payload(id, isPoison(id, plan.poison)))) {
        p.push(`record ${id} arrived altered: ${JSON.stringify(normalize(record))}`)
        break
      }
      if (!unique.has(id) && unknown.has(id)) fromUnknown++
      unique.add(id)
    }
  }
  servers.forEach((srv, i) => {
    if (!plan.servers[i].tls && !plan.servers[i].auth && srv.malformed.length > 0) p.push(`server ${i} got malformed requests: ${srv.malformed.slice(0, 3).join('; ')}`)
  })
  if (fromUnknown > r.unknownAccepted) p.push(`${fromUnknown} records of refusing emitMany calls arrived, only ${r.unknownAccepted} were accepted`)
  if (plan.client.requireAck && unique.size < s.sent) p.push(`sent ${s.sent} acknowledged records, the servers hold ${unique.size} distinct ones`)
  // Bounds.
  if (r.report !== undefined || plan.end === 'close') {
    if (r.report === undefined) p.push('close never resolved')
    else if (s.pending !== 0) p.push(`after close resolved, stats().pending is ${s.pending}`)
    // The writer stops at the deadline (plus its margin); then the failure handler has
    // errorHandlerTimeoutMs for what it holds, and a call started just before may run its own.
    const bound = (r.closeTimeoutMs ?? plan.closeTimeoutMs) + 1500 + (plan.handler === 'none' ? 0 : 2 * plan.handlerTimeoutMs)
    if ((r.endMs ?? Infinity) > bound) p.push(`close took ${Math.round(r.endMs ?? -1)} ms, bound ${bound} ms`)
  } else {
    const exitMs = Number(plan.client.exitFlushTimeoutMs)
    const bound = exitMs + 250 + 1000
    if ((r.endMs ?? Infinity) > bound) p.push(`exit took ${Math.round(r.endMs ?? -1)} ms, bound ${bound} ms`)
  }
  return p
}

/** The decoded record in the form `payload` builds (msgpack gives BigInt for none of these). */
function normalize(record: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)))
}
