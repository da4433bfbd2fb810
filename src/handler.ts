/**
 * Runs the user's failure handler (`errorHandler`): one batch per call, one call at a time per
 * client, so a handler that writes to a file sees batches in order and never runs twice at once.
 * A throw, a rejection, a non-boolean answer or no answer within `errorHandlerTimeoutMs` is
 * reported as ERR_FLUENT_HANDLER and counts as `false`. `false` on a retriable batch buffers the
 * records again (`requeue`); on any other batch they are gone, as the overflow policy or the
 * deadline decided.
 */
import type { FailedBatch } from './batch.js'
import { FluentError } from './errors.js'
import type { ErrorHandler } from './fallbacks.js'
import { describeError } from './time.js'

export interface HandlerHost {
  /** Reports an error the way the client reports its own ('error' listeners). */
  report(err: FluentError): void
  /** Buffers the entries again under `tag`; returns how many were accepted. */
  requeue(tag: string, bytes: Uint8Array): number
}

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
  /** `undelivered` events received from the native side. */
  seen = 0

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
    const size = batch.bytes.length
    if (batch.reason !== 'close' && this.#queuedBytes > 0 && this.#queuedBytes + size > this.#maxBytes) {
      if (batch.retriable) this.#host.requeue(batch.tag, batch.bytes)
      else this.overflow += batch.count
      return
    }
    this.#queuedBytes += size
    this.#chain = this.#chain.then(() => this.#one(error, batch)).finally(() => {
      this.#queuedBytes -= size
    })
  }

  /** Resolves once every queued batch has been through the handler. */
  idle(): Promise<void> {
    return this.#chain
  }

  /**
   * At exit: the handler is called and only a synchronous `true` counts (no later tick will come
   * to settle a promise); `fallbackToFile` writes synchronously for this reason.
   */
  runSync(error: FluentError, batch: FailedBatch): void {
    try {
      const answer = this.#handler(error, batch)
      if (answer === true) this.handled += batch.count
      else if (answer !== false) {
        this.#failed(batch, 'returned a promise at exit, where it cannot be awaited (write synchronously when batch.reason is "exit")')
      }
    } catch (e) {
      this.#failed(batch, `threw: ${describeError(e)}`, e)
    }
  }

  async #one(error: FluentError, batch: FailedBatch): Promise<void> {
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
    if (batch.retriable) this.#host.requeue(batch.tag, batch.bytes)
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
