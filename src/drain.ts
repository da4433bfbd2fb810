/**
 * The client's `'drain'` event: after the buffer refused records for lack of room (or a stream found
 * none), it fires once the buffer is back at half its cap or below. The writer thread frees the room,
 * so the JS side looks: every DRAIN_POLL_MS while someone waits, not at all otherwise. Half the cap,
 * not "any room", so that a producer that resumes has room for a burst (the highWaterMark idea).
 */
import { queuedBytes } from '../binding.js'

/** How often a waiting watch looks at the buffered bytes. */
export const DRAIN_POLL_MS = 10

/** One client's `'drain'` watch. */
export class DrainWatch {
  readonly #id: number
  readonly #low: number
  readonly #fire: () => void
  #timer: NodeJS.Timeout | undefined
  /** Waiters that keep the process alive (streams with a write pending). */
  #holds = 0

  /** For native client `id`, whose buffer cap is `cap`; `fire` emits the event. */
  constructor(id: number, cap: number, fire: () => void) {
    this.#id = id
    this.#low = Math.floor(cap / 2)
    this.#fire = fire
  }

  /** Starts looking (if not already); `hold` keeps the event loop alive until the next `'drain'`. */
  arm(hold: boolean): void {
    if (hold) this.#holds++
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#check(), DRAIN_POLL_MS)
    }
    if (this.#holds > 0) this.#timer.ref()
    else this.#timer.unref()
  }

  #check(): void {
    // -1: the client is gone or stopped; waiters are told, and find it closed.
    const queued = queuedBytes(this.#id)
    if (queued > this.#low) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#holds = 0
    this.#fire()
  }
}
