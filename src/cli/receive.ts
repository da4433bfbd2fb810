/** `fluent-native receive`: a Forward server for local development that prints what arrives. */
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { FluentReceiver } from '../receiver.js'
import type { FluentReceiverOptions } from '../receiver.js'
import { EXIT, UsageError, integer, parse } from './args.js'
import { eventLine, prettyEvent, unprintableLine } from './json.js'

export const RECEIVE_HELP = `usage: fluent-native receive [options]

Listens for the Forward protocol and prints every event as a JSON line
{"tag":..,"time":..,"record":..} on stdout (time: seconds, or [seconds, nanoseconds]).
Stops on Ctrl-C (SIGINT) or SIGTERM and prints the receiver's counts on stderr.

  --host HOST              listen address (default 127.0.0.1; 0.0.0.0 for every interface)
  -p, --port PORT          port (default 24224; 0 picks a free one, printed on stderr)
  -u, --unix               listen on a Unix socket: --socket, $FLUENT_SOCKET or /var/run/fluent/fluent.sock
  -s, --socket PATH        Unix socket path (implies --unix)
  --no-ack                 never acknowledge (to see a client's ack timeouts); default: acknowledge
  --tls-cert FILE --tls-key FILE   TLS listener
  --pretty                 ISO times and indented records, for people
  --count N                exit after N events (status 0), e.g. in scripts
  -q, --quiet              count only, print nothing per event

Limits (each closes the offending connection, counted in the summary; see docs/receiver.md):
  --max-request-bytes N    largest request (default 6144000, Fluent Bit's buffer_max_size)
  --max-inflated-bytes N   largest size a gzip or zstd request inflates to (default 24576000)
  --max-connections N      connections at once; more are closed on arrival (default 1024)
  --idle-timeout MS        close a connection that starts no request for MS (default 300000)
  --request-timeout MS     a request must arrive whole within MS of its first byte (default 30000)
  --handshake-timeout MS   TLS accept and handshake must finish within MS (default 10000)`

/** Bytes of output waiting for a slow stdout before events are counted instead of printed. */
const MAX_UNWRITTEN = 64 * 1024 * 1024
/** Output is written in chunks of about this many characters. */
const FLUSH_AT = 256 * 1024

const SPEC = {
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  unix: { type: 'boolean', short: 'u' },
  socket: { type: 'string', short: 's' },
  ack: { type: 'boolean', default: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  pretty: { type: 'boolean' },
  count: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'max-request-bytes': { type: 'string' },
  'max-inflated-bytes': { type: 'string' },
  'max-connections': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  help: { type: 'boolean' },
} as const

const DAY_MS = 24 * 3600 * 1000

export async function receive(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse('receive', SPEC, argv)
  if (v.help) {
    process.stdout.write(RECEIVE_HELP + '\n')
    return EXIT.ok
  }
  if (positionals.length > 0) throw new UsageError(`receive: unexpected argument "${positionals[0]}"`)
  const options: FluentReceiverOptions = { ack: v.ack !== false }
  if (v.unix || v.socket !== undefined) {
    if (v.host !== undefined || v.port !== undefined) throw new UsageError('receive: --unix/--socket and --host/--port exclude each other')
    options.path = (v.socket as string | undefined) ?? process.env.FLUENT_SOCKET ?? '/var/run/fluent/fluent.sock'
  } else {
    options.host = (v.host as string | undefined) ?? '127.0.0.1'
    options.port = integer('receive', 'port', v.port, 0, 65535) ?? 24224
  }
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new UsageError('receive: --tls-cert and --tls-key go together')
  if (v['tls-cert'] !== undefined) {
    try {
      options.tls = { cert: readFileSync(v['tls-cert'] as string), key: readFileSync(v['tls-key'] as string) }
    } catch (e) {
      throw new UsageError(`receive: ${(e as Error).message}`)
    }
  }
  options.maxRequestBytes = integer('receive', 'max-request-bytes', v['max-request-bytes'], 1024, 2 ** 30)
  options.maxInflatedBytes = integer('receive', 'max-inflated-bytes', v['max-inflated-bytes'], 1024, 2 ** 30)
  options.maxConnections = integer('receive', 'max-connections', v['max-connections'], 1, 2 ** 31)
  options.idleTimeoutMs = integer('receive', 'idle-timeout', v['idle-timeout'], 1, DAY_MS)
  options.requestTimeoutMs = integer('receive', 'request-timeout', v['request-timeout'], 1, DAY_MS)
  options.handshakeTimeoutMs = integer('receive', 'handshake-timeout', v['handshake-timeout'], 1, DAY_MS)
  const limit = integer('receive', 'count', v.count, 1, Number.MAX_SAFE_INTEGER)
  const receiver = await FluentReceiver.listen(options).catch((e: unknown) => {
    // The receiver's message says "port 0 picks a free one"; on the command line that is --port 0.
    if (e instanceof Error && /EADDRINUSE/.test(e.message)) e.message = e.message.replace('port 0', '--port 0')
    throw e
  })
  let seen = 0
  let done!: () => void
  const finished = new Promise<void>((resolve) => (done = resolve))
  const print = v.quiet ? undefined : v.pretty ? prettyEvent : eventLine
  let pending = ''
  const out = process.stdout
  out.on('error', () => done()) // the reader went away (EPIPE): stop quietly
  let unprinted = 0
  function flush(): void {
    if (pending === '') return
    const chunk = pending
    pending = ''
    out.write(chunk)
  }
  if (print === undefined) {
    // Counting only: no listener, so events are never copied to JS (the receiver's fastest mode).
    if (limit !== undefined) {
      receiver.waitFor(limit, 2 ** 31 - 1).then(() => done(), () => done())
    }
  } else {
    receiver.on('event', (ev) => {
      if (limit !== undefined && seen >= limit) return
      seen++
      // A reader slower than the senders must not grow this process without bound: what stdout
      // has not taken yet is capped, and events past the cap are counted instead.
      if (out.writableLength >= MAX_UNWRITTEN) {
        unprinted++
      } else {
        let line: string
        try {
          line = print(ev)
        } catch (e) {
          line = unprintableLine(ev, e)
        }
        pending += line + '\n'
        if (pending.length >= FLUSH_AT) flush()
      }
      if (limit !== undefined && seen >= limit) done()
    })
  }
  // Announced only now: events decoded before the listener above existed would not reach it.
  const at = options.path ?? `${options.host}:${receiver.port}`
  process.stderr.write(`fluent-native receive: listening on ${at}${options.tls ? ' (TLS)' : ''}${options.ack ? '' : ', not acknowledging'}\n`)
  // Lines go out in chunks of FLUSH_AT, and at least every 10 ms when traffic is light.
  const flusher = setInterval(flush, 10)
  const stop = () => done()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await finished
  clearInterval(flusher)
  if (pending !== '' && out.writable) {
    if (!out.write(pending)) await Promise.race([once(out, 'drain'), once(out, 'error')])
  }
  await receiver.close()
  process.removeListener('SIGINT', stop)
  process.removeListener('SIGTERM', stop)
  const s = receiver.stats()
  process.stderr.write(
    `fluent-native receive: ${s.events} events in ${s.requests} requests over ${s.connections} connection(s), ${s.acks} acks, ${s.invalid} invalid, ${s.errors} connection errors${s.tooLarge > 0 ? ` (${s.tooLarge} requests too large)` : ''}${s.timeouts > 0 ? `, ${s.timeouts} timed out` : ''}${s.refused > 0 ? `, ${s.refused} refused (--max-connections)` : ''}${unprinted > 0 ? `, ${unprinted} not printed (stdout too slow)` : ''}\n`,
  )
  return EXIT.ok
}
