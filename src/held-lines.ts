/**
 * The pino destination's lines, held on the JS side for a moment and handed to the native
 * transcoder together: one Node-API call, one queue lock and one run of a transcoder whose code and
 * tables are still cached, per interval, instead of one of each per line. A service writes a line or
 * two per request, one request per event-loop turn, and paid all three on every request.
 *
 * The lines wait the way staged records do (src/stage.ts, "Bounded delay"): at most
 * HANDOVER_DELAY_MS (or the client's shorter `flushIntervalMs`), on the stage's one timer, and every
 * handover of the stage hands them over first, so flush, stats, close and the exit drain find them
 * in the native buffer. A chunk of bytes, `flushSync()` and `end()` hand them over too, and so does
 * a line that would not fit in the HANDOVER_BYTES the destination holds at most. In a Worker every
 * line is handed over at once: `worker.terminate()` runs no JS, and a line held here would be lost.
 */
import { isMainThread } from 'node:worker_threads'
import { HANDOVER_BYTES } from '../binding.js'
import type { NativeNdjson } from '../binding.js'
import { hold } from './stage.js'

export class HeldLines {
  readonly #lines: NativeNdjson
  readonly #delayMs: number
  /**
   * Lines written and not handed over yet, copied in as UTF-8 at once: holding pino's strings
   * instead kept each alive past the young generation's next scavenge, and the collector's copying
   * of them cost what the handover saved (bench/service.ts).
   */
  #buf: Buffer | undefined
  #used = 0
  /** Listed with the stage, which hands the lines over at its next handover. */
  #listed = false
  readonly #fromStage = (): void => {
    this.#listed = false
    this.handOver()
  }

  /** `delayMs`: the client's (`handoverDelayMs` of src/internal.ts). */
  constructor(lines: NativeNdjson, delayMs: number) {
    this.#lines = lines
    this.#delayMs = delayMs
  }

  /** Holds `chunk` (one or more lines); hands everything over at once when it would not fit, or in a Worker. */
  writeText(chunk: string): void {
    // A UTF-16 unit takes at most 3 bytes in UTF-8 (a surrogate pair, 2 units, takes 4).
    const most = chunk.length * 3
    if (!isMainThread || most > HANDOVER_BYTES) {
      this.handOver()
      this.#lines.writeText(chunk)
      return
    }
    if (this.#used + most > HANDOVER_BYTES) this.handOver()
    const buf = (this.#buf ??= Buffer.allocUnsafeSlow(HANDOVER_BYTES))
    this.#used += buf.write(chunk, this.#used)
    if (!this.#listed) {
      this.#listed = true
      hold(this.#fromStage, this.#delayMs)
    }
  }

  /** Bytes go after the lines held before them. */
  writeBytes(chunk: Uint8Array): void {
    this.handOver()
    this.#lines.writeBytes(chunk)
  }

  /** Hands the held lines to the transcoder (a no-op when none are held). */
  handOver(): void {
    const n = this.#used
    if (n === 0) return
    this.#used = 0
    this.#lines.writeBytes((this.#buf as Buffer).subarray(0, n))
  }

  /** The input is complete: hands the held lines over, then ends the transcoder's input. */
  end(): void {
    this.handOver()
    this.#lines.end()
  }
}
