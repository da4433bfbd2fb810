/**
 * Process (and Worker) exit: every open client drains at once against one deadline, and what is
 * left is reported before the thread is gone. Clients register a handle of closures, so nothing of
 * this is reachable from a client instance, and the registry holds it weakly so clients can still
 * be collected.
 */
import { isMainThread } from 'node:worker_threads'
import { closeAllSync } from '../binding.js'
import type { JsExitReport } from '../binding.js'

/** What the exit drain needs of one client: closures, so the client object stays unreachable from here. */
export interface ExitHandle {
  /** The native client id. */
  readonly id: number
  /** Hands staged records over and refuses later emits (an `'exit'` listener may still log). */
  begin(): void
  /** Reports what this client could not deliver; returns the count it had nobody to tell. */
  end(report: JsExitReport | undefined): number
}

const live = new Set<WeakRef<ExitHandle>>()
const forget = new FinalizationRegistry<WeakRef<ExitHandle>>((ref) => live.delete(ref))
/** The drain has run: a client made after it (in a later 'exit' listener) starts out exited. */
let drained = false

/** Registers a client (`owner`, held weakly) for the exit drain; after the drain, it starts out exited. */
export function register(owner: object, handle: ExitHandle): void {
  if (drained) return handle.begin()
  const ref = new WeakRef(handle)
  live.add(ref)
  forget.register(owner, ref)
}

// Installed when the package is loaded, not with the first client: in the main thread the drain
// also closes the Workers' clients at once, which only this thread's 'exit' can do (Node stops
// Workers one after another afterwards, and each would otherwise wait its own deadline).
process.on('exit', drainAll)

/**
 * A warning written now: `process.emitWarning` defers to the next tick, which never comes inside
 * `'exit'`. Emitting the `'warning'` event directly runs Node's own printer (and any listener).
 */
export function warnNow(message: string, code: string): void {
  const warning = new Error(message)
  warning.name = 'Warning'
  ;(warning as Error & { code: string }).code = code
  process.emit('warning', warning)
}

function drainAll(): void {
  drained = true
  const handles: ExitHandle[] = []
  for (const ref of live) {
    const h = ref.deref()
    if (h !== undefined) handles.push(h)
  }
  live.clear()
  for (const h of handles) h.begin()
  // The main thread's exit also closes the Workers' clients, so they drain in the same wait.
  const all = closeAllSync(isMainThread)
  const reports = new Map(all.filter((r) => !r.collected).map((r) => [r.id, r]))
  let unreported = 0
  let clients = 0
  for (const r of all) {
    if (r.collected && r.pending > 0) {
      unreported += r.pending
      clients++
    }
  }
  for (const h of handles) {
    const n = h.end(reports.get(h.id))
    if (n > 0) {
      unreported += n
      clients++
    }
  }
  if (unreported > 0) {
    warnNow(
      `fluent-native: ${unreported} record(s) from ${clients} client(s) were not delivered before the exit deadline (exitFlushTimeoutMs); add an 'error' listener to receive them as ERR_FLUENT_UNDELIVERED`,
      'ERR_FLUENT_UNDELIVERED',
    )
  }
}
