/** A progress line on stderr, redrawn in place, only when stderr is a terminal. */
export class Progress {
  readonly #timer: NodeJS.Timeout | undefined
  readonly #out: NodeJS.WriteStream | undefined
  readonly #line: (seconds: number) => string
  readonly #started = performance.now()

  constructor(out: NodeJS.WriteStream | undefined, line: (seconds: number) => string) {
    this.#out = out?.isTTY ? out : undefined
    this.#line = line
    if (this.#out !== undefined) {
      this.#timer = setInterval(() => this.#draw(), 250)
      this.#timer.unref()
    }
  }

  #draw(): void {
    const s = (performance.now() - this.#started) / 1000
    this.#out?.write(`\r\x1b[K${this.#line(s)} (${s.toFixed(1)} s)`)
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#out?.write('\r\x1b[K')
  }
}
