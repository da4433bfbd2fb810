/**
 * `fluent-native/pino`: pino's JSON lines to fluentd / Fluent Bit, never parsed in JS.
 *
 * - default export: a pino v7+ transport, `pino.transport({ target: 'fluent-native/pino', options })`.
 *   It runs in pino's worker thread: the lines are transcoded there, off the application's thread.
 * - `destination(options)`: the same in the calling thread, `pino(destination(options))`, with the
 *   sonic-boom surface pino uses (`write`, `flush(cb)`, `flushSync()`, `end()`, `'ready'`, `'close'`).
 *
 * Options: every FluentClient option, plus the line options of src/ndjson.ts (`tag`, `tagKey`,
 * `timeKey`, `keepTime`, `levelKey`, `levelNames`, `messageKey`).
 */
import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import { parentPort, workerData } from 'node:worker_threads'
import { excludeFromProcessExit } from '../binding.js'
import type { NativeNdjson } from '../binding.js'
import { FluentClient } from './client.js'
import { FluentError } from './errors.js'
import { HeldLines } from './held-lines.js'
import { internalsOf } from './internal.js'
import { LINE_OPTION_KEYS, openNdjson, splitLineOptions } from './ndjson.js'
import type { LineOptions } from './ndjson.js'
import { checkOptionNames } from './options.js'
import type { FluentClientOptions } from './types.js'
import { warnAboutClient, warnWhenUnheard } from './warnings.js'

/** The pino transport's and `destination()`'s options: every FluentClient option and the line options. */
export type PinoFluentOptions = FluentClientOptions & LineOptions

/** The fallback tag when none is given. */
const DEFAULT_TAG = 'pino'
/**
 * How long `end()` (pino's exit flush) drains when `exitFlushTimeoutMs` is not set: pino waits 10 s
 * for a transport to close before it gives up on it, so the drain must end well within that.
 */
const END_TIMEOUT_MS = 8000
/** How long the transport waits for pino's PINO_CONFIG message (it arrives at once when it comes). */
const CONFIG_WAIT_MS = 1000

interface Opened {
  client: FluentClient
  lines: NativeNdjson
  endTimeoutMs: number
}

function open(options: unknown, levelsFromPino?: Record<string, string>, messageKey?: string): Opened {
  const { line, client: clientOptions } = splitLineOptions(options)
  const lineOptions: LineOptions = { ...line }
  if (levelsFromPino !== undefined && (line.levelNames === undefined || line.levelNames === true)) {
    lineOptions.levelNames = levelsFromPino
  }
  if (messageKey !== undefined && line.messageKey === undefined) lineOptions.messageKey = messageKey
  // A mistyped line option ("tagkey") is suggested among the line options too.
  checkOptionNames(clientOptions, LINE_OPTION_KEYS)
  const endTimeoutMs = (clientOptions.exitFlushTimeoutMs as number | undefined) ?? END_TIMEOUT_MS
  const client = new FluentClient({ ...clientOptions, exitFlushTimeoutMs: endTimeoutMs } as FluentClientOptions)
  try {
    const lines = openNdjson(client, lineOptions, { tag: DEFAULT_TAG, levelNames: true, waitForRoom: false })
    return { client, lines, endTimeoutMs }
  } catch (e) {
    void client.close({ timeoutMs: 0 })
    throw e
  }
}

/** Closes the client; what it could not deliver it reports itself (ERR_FLUENT_UNDELIVERED). */
function closed(client: FluentClient, timeoutMs: number): Promise<void> {
  return client.close({ timeoutMs }).then(() => undefined)
}

/**
 * The in-thread destination: `pino(destination({ tag: 'app', host: 'fluentd' }))`. Lines are held
 * for at most 10 ms and handed to the native buffer together (src/held-lines.ts; in a Worker each
 * `write` hands its line over at once); the client drains at exit like any FluentClient, the held
 * lines first. `client` is there for `'error'` listeners and `stats()`; while it has none, its
 * errors are warnings on stderr (src/warnings.ts).
 */
export class PinoDestination extends EventEmitter {
  /** The client (for `'error'` listeners, `stats()`, `flush()`). */
  readonly client: FluentClient
  /** What pino looks for to tell a stream from an options object in `pino(stream)`. */
  writable = true
  readonly #lines: HeldLines
  readonly #endTimeoutMs: number
  #ending: Promise<void> | undefined

  /** Opens the client (ERR_FLUENT_CONFIG for a bad option, ERR_FLUENT_INVALID_TAG for a bad `tag`); emits `'ready'` on the next tick. */
  constructor(options: PinoFluentOptions = {}) {
    super()
    const { client, lines, endTimeoutMs } = open(options)
    this.client = client
    this.#lines = new HeldLines(lines, internalsOf(client).handoverDelayMs)
    this.#endTimeoutMs = endTimeoutMs
    // Not silent by default: while nobody listens on `client`, its errors go to stderr.
    warnWhenUnheard(client, 'fluent-native/pino')
    process.nextTick(() => this.emit('ready'))
  }

  /**
   * One or more NDJSON lines (pino writes one line per call). True until `end()`; lines written
   * after it are refused by the closed client and counted as dropped.
   */
  write(chunk: string | Uint8Array): boolean {
    if (typeof chunk === 'string') this.#lines.writeText(chunk)
    else this.#lines.writeBytes(chunk)
    return this.#ending === undefined
  }

  /** Calls back (and resolves) once every line written before is delivered; `cb(err)` if not. */
  flush(cb?: (err?: Error) => void): Promise<void> {
    this.#lines.handOver()
    const p = this.client.flush()
    if (cb !== undefined) p.then(() => cb(), (e: Error) => cb(e))
    return p
  }

  /**
   * Moves the held lines to the native buffer; delivery is asynchronous (see `flush(cb)`), and the
   * exit drain delivers what is left.
   */
  flushSync(): void {
    this.#lines.handOver()
  }

  /** Stops, drains (at most `exitFlushTimeoutMs`, default 8 s), then emits `'close'`. */
  end(cb?: () => void): this {
    if (this.#ending === undefined) {
      this.writable = false
      this.#lines.end()
      this.#ending = closed(this.client, this.#endTimeoutMs).then(() => {
        this.emit('finish')
        this.emit('close')
      })
    }
    if (cb !== undefined) void this.#ending.then(cb)
    return this
  }

  /** Same as `end()`. */
  destroy(): void {
    this.end()
  }
}

/** A pino destination in the calling thread: `pino(destination({ tag: 'app' }))`. */
export function destination(options: PinoFluentOptions = {}): PinoDestination {
  return new PinoDestination(options)
}

/**
 * The transport's stream (in pino's worker): thread-stream hands it strings cut at arbitrary
 * places, which the native side splits into lines. `flush()` is what thread-stream calls for
 * `logger.flush(cb)`; `end()` (pino's autoEnd at exit) drains and then closes the worker.
 */
class TransportStream extends Writable {
  readonly client: FluentClient
  readonly #lines: NativeNdjson
  readonly #endTimeoutMs: number

  constructor(opened: Opened) {
    super({ decodeStrings: false })
    this.client = opened.client
    this.#lines = opened.lines
    this.#endTimeoutMs = opened.endTimeoutMs
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (typeof chunk === 'string') this.#lines.writeText(chunk)
    else this.#lines.writeBytes(chunk)
    done()
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#lines.end()
    closed(this.client, this.#endTimeoutMs).then(() => done(), done)
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    closed(this.client, this.#endTimeoutMs).then(() => done(error), () => done(error))
  }

  flush(): Promise<void> {
    return this.client.flush()
  }
}

interface PinoConfig {
  levels?: { labels?: Record<string, string> }
  messageKey?: string
}

/** pino (>= 8.21) posts its levels and messageKey to the worker when it says it will. */
async function pinoConfig(): Promise<PinoConfig | undefined> {
  const port = parentPort
  if (port === null || (workerData as { workerData?: { pinoWillSendConfig?: boolean } })?.workerData?.pinoWillSendConfig !== true) {
    return undefined
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(undefined), CONFIG_WAIT_MS)
    function finish(config: PinoConfig | undefined): void {
      clearTimeout(timer)
      port!.off('message', onMessage)
      resolve(config)
    }
    function onMessage(message: { code?: string; config?: PinoConfig }): void {
      if (message?.code === 'PINO_CONFIG') finish(message.config ?? {})
    }
    port.on('message', onMessage)
  })
}

/**
 * The pino v7+ transport: `pino.transport({ target: 'fluent-native/pino', options })`.
 *
 * A bad option rejects, which pino emits as the transport's `'error'` in the main thread (unheard,
 * it ends the process, as a bad option ends `new FluentClient()`: a typo fails at start, not as
 * logs quietly missing). The error crosses the Worker as a plain Error, which keeps only its
 * message, so the message starts with the code: `ERR_FLUENT_CONFIG: unknown option "tagkey" ...`.
 *
 * In the Worker nobody can listen to the client, so its errors are written straight to stderr
 * (src/warnings.ts: a failure to reach the server once per outage, other codes once per 10 s).
 */
export default async function pinoTransport(options: PinoFluentOptions = {}): Promise<Writable> {
  // What thread-stream and pino add to the options for their own use.
  const { $context: _context, pinoWillSendConfig: _willSend, ...ours } = options as Record<string, unknown>
  const config = await pinoConfig()
  let opened: Opened
  try {
    opened = open(ours, config?.levels?.labels, config?.messageKey)
  } catch (e) {
    throw withCodeInMessage(e)
  }
  const stream = new TransportStream(opened)
  // pino's autoEnd ends this stream at exit, after this Worker took in what is left of pino's
  // buffer; the main thread's own exit drain (if it loaded fluent-native) must not close the
  // client before that.
  excludeFromProcessExit(internalsOf(stream.client).id)
  warnAboutClient(stream.client, 'fluent-native/pino', parentPort === null ? 'emit' : 'stderr')
  return stream
}

/** `code: message`, so the code survives the structured clone to the main thread. */
function withCodeInMessage(e: unknown): unknown {
  if (!(e instanceof FluentError)) return e
  return new FluentError(e.code, `${e.code}: fluent-native/pino: ${e.message}`, { cause: e.cause })
}
