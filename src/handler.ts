/**
 * Runs the user's failure handler (`errorHandler`): one batch per call, one call at a time per
 * client, so a handler that writes to a file sees batches in order and never runs twice at once.
 * A throw, a rejection, a non-boolean answer or no answer within `errorHandlerTimeoutMs` is
 * reported as ERR_FLUENT_HANDLER and counts as `false`. `false` on a retriable batch buffers the
 * records again (`requeue`); on any other batch they are gone, as the overflow policy or the
 * deadline decided.
 *
 * Accounting (the identity of docs/delivery.md): every record given to the runner ends in exactly one of
 * `handled` (the handler took it), `requeued` (back in the buffer, pending again) or `dropped` (not
 * taken and not kept: a non-retriable batch, or no room to requeue), and is `inHand` meanwhile.
 * Nothing here throws or rejects, whatever the handler or the requeue does (REVIEW-0.2 A1): a
 * rejection on the chain would be an unhandled rejection, which kills the process.
 */
import type { FailedBatch } from './batch.js'
import { FluentError } from './errors.js'
import type { ErrorHandler } from './fallbacks.js'
import { describeError } from './time.js'

/** What the runner needs of its client. */
export interface HandlerHost {
  /** Reports an error the way the client reports its own ('error' listeners). */
  report(err: FluentError): void
  /** Buffers the entries again under `tag` where they fit; returns how many were taken. May throw. */
  requeue(tag: string, bytes: Uint8Array): number
}

/** Runs a client's failure handler: one batch at a time, each bounded by the handler timeout. */
export class HandlerRunner {
  readonly #handler: ErrorHandler
  readonly #timeoutMs: number
  readonly #maxBytes: number
  readonly #host: HandlerHost
  #chain: Promise<void> = Promise.resolve()
  /** Bytes of batches queued for the handler and not yet through it. */
  #queuedBytes = 0
  /** Dropped records the handler never saw: its queue was over `errorHandlerMaxBytes`. */
  overflow = 0
  /** Records the handler took (returned `true` for). */
  handled = 0
  /** Records given to the runner that it neither handled nor could buffer again (`overflow` included). */
  dropped = 0
  /** Of `dropped`: records left at the close or exit deadline (the close report calls them `pending`). */
  droppedAtDeadline = 0
  /** Records given back to the buffer. */
  requeued = 0
  /** Records given to the runner. */
  taken = 0
  /** After this (ms since the epoch), queued batches are no longer offered to the handler (a close). */
  #deadline = Infinity
  /** Records not offered because the deadline had passed. */
  #skipped = 0

  /** Records given to the runner and not yet through it. */
  get inHand(): number {
    return this.taken - this.handled - this.dropped - this.requeued
  }

  /** `timeoutMs`: `errorHandlerTimeoutMs`; `maxBytes`: `errorHandlerMaxBytes`. */
  constructor(handler: ErrorHandler, timeoutMs: number, maxBytes: number, host: HandlerHost) {
    this.#handler = handler
    this.#timeoutMs = timeoutMs
    this.#maxBytes = maxBytes
    this.#host = host
  }

  /**
   * Queues one batch for the handler. A handler slower than an outage's drops must not make memory
   * grow: past `errorHandlerMaxBytes` of queued batches, dropped records are only counted, and a
   * retriable batch is buffered again at once (as if the handler had said `false`). What is left at
   * a close is finite (the buffer's cap) and always queued.
   */
  run(error: FluentError, batch: FailedBatch): void {
    this.taken += batch.count
    const size = batch.bytes.length
    if (batch.reason !== 'close' && this.#queuedBytes > 0 && this.#queuedBytes + size > this.#maxBytes) {
      if (batch.retriable) this.#giveBack(batch)
      else {
        this.overflow += batch.count
        this.dropped += batch.count
      }
      return
    }
    this.#queuedBytes += size
    // `#one` never rejects; the second callback is a guard so that the chain cannot either.
    this.#chain = this.#chain
      .then(() => this.#one(error, batch))
      .then(
        () => {
          this.#queuedBytes -= size
        },
        () => {
          this.#queuedBytes -= size
        },
      )
  }

  /** Resolves once every queued batch has been through the handler. */
  idle(): Promise<void> {
    return this.#chain
  }

  /**
   * A close: the handler gets `errorHandlerTimeoutMs` from now for what is queued, and batches not
   * started by then are not offered (they count as left at the deadline). Without this, a slow
   * handler and many batches (a thousand tags' worth) would hold the close for minutes: one call at
   * a time, each up to `errorHandlerTimeoutMs`. So a close ends within its timeout plus at most
   * twice `errorHandlerTimeoutMs` (a call started just before this deadline may run its own).
   */
  async finish(): Promise<void> {
    this.#deadline = Math.min(this.#deadline, Date.now() + this.#timeoutMs)
    await this.#chain
    if (this.#skipped > 0) {
      const n = this.#skipped
      this.#skipped = 0
      try {
        this.#host.report(
          new FluentError('ERR_FLUENT_HANDLER', `${n} record(s) were not offered to the failure handler: it had errorHandlerTimeoutMs (${this.#timeoutMs} ms) after the close to answer for what it held`, {
            records: n,
          }),
        )
      } catch {
        // Reporting is best effort.
      }
    }
  }

  /**
   * At exit: the handler is called and only a synchronous `true` counts (no later tick will come
   * to settle a promise); `fallbackToFile` writes synchronously for this reason.
   */
  runSync(error: FluentError, batch: FailedBatch): void {
    this.taken += batch.count
    let answer: unknown
    try {
      answer = this.#handler(error, batch)
      if (answer !== true && answer !== false) {
        if (answer instanceof Promise) answer.catch(() => {})
        this.#failed(batch, 'returned a promise at exit, where it cannot be awaited (write synchronously when batch.reason is "exit")')
      }
    } catch (e) {
      this.#failed(batch, `threw: ${describeError(e)}`, e)
    }
    if (answer === true) this.handled += batch.count
    else this.#lost(batch)
  }

  /** Records the handler did not take and that cannot be buffered again. */
  #lost(batch: FailedBatch, n = batch.count): void {
    this.dropped += n
    if (batch.reason === 'close' || batch.reason === 'exit') this.droppedAtDeadline += n
  }

  /** Buffers a retriable batch again; what finds no room (or fails) is dropped, never thrown. */
  #giveBack(batch: FailedBatch): void {
    let taken = 0
    try {
      taken = this.#host.requeue(batch.tag, batch.bytes)
    } catch (e) {
      this.#failed(batch, `could not be given back to the buffer: ${describeError(e)}`, e)
    }
    this.requeued += taken
    if (taken < batch.count) this.#lost(batch, batch.count - taken)
  }

  async #one(error: FluentError, batch: FailedBatch): Promise<void> {
    if (Date.now() >= this.#deadline) {
      this.#skipped += batch.count
      this.dropped += batch.count
      this.droppedAtDeadline += batch.count
      return
    }
    let answer: unknown
    try {
      answer = await this.#bounded(this.#handler(error, batch))
    } catch (e) {
      this.#failed(batch, e instanceof HandlerTimeout ? e.message : `threw: ${describeError(e)}`, e)
      answer = false
    }
    if (answer === true) {
      this.handled += batch.count
      return
    }
    if (answer !== false) this.#failed(batch, `must return true or false, returned ${typeof answer}`)
    if (batch.retriable) this.#giveBack(batch)
    else this.#lost(batch)
  }

  #bounded<T>(answer: T | Promise<T>): Promise<T> {
    if (!(answer instanceof Promise)) return Promise.resolve(answer)
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new HandlerTimeout(this.#timeoutMs)), this.#timeoutMs)
      // The handler's own work keeps the process alive if it must; this timer never does.
      timer.unref()
      answer.then(
        (v) => {
          clearTimeout(timer)
          resolve(v)
        },
        (e) => {
          clearTimeout(timer)
          reject(e)
        },
      )
    })
  }

  #failed(batch: FailedBatch, what: string, cause?: unknown): void {
    try {
      this.#report(batch, what, cause)
    } catch {
      // Reporting is best effort: a broken 'error' listener must not break the accounting.
    }
  }

  #report(batch: FailedBatch, what: string, cause?: unknown): void {
    const err = new FluentError('ERR_FLUENT_HANDLER', `the failure handler ${what} (${batch.count} record(s) of ${batch.tag}, ${batch.reason})`, {
      records: batch.count,
      tag: batch.tag,
      cause,
    })
    this.#host.report(err)
  }
}

class HandlerTimeout extends Error {
  constructor(ms: number) {
    super(`did not answer within errorHandlerTimeoutMs (${ms} ms)`)
  }
}
