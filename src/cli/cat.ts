/** `fluent-native cat <tag> [file...]`: records from stdin or files to a Forward server. */
import { FluentClient } from '../client.js'
import type { FluentClientOptions } from '../types.js'
import { COMPRESSION, COMPRESSION_HELP, CONNECTION, CONNECTION_HELP, EXIT, UsageError, compression, connection, integer, parse, where } from './args.js'
import { items, parseTime } from './input.js'
import type { Bad, Format, Item } from './input.js'
import { Progress } from './progress.js'
import { Reach, closeWithin } from './reach.js'

export const CAT_HELP = `usage: fluent-native cat [options] <tag> [file...]

Sends one record per input item to a Fluentd / Fluent Bit Forward server. Reads stdin when no file
(or "-") is given. Items are JSON objects, one per line, or Fluent Bit's [time, object].

${CONNECTION_HELP}

Input:
  -f, --format FORMAT      json (default), msgpack, or none/text (each line becomes {message: line})
  --json, --msgpack, --none  shorthands for --format
  --message-key KEY        the key --format none uses (default "message")
  --time-key KEY           take each record's time from this field (seconds or a date string) and
                           remove it from the record
  --event-time TIME        one time (seconds or a date string) for every record
  --time-as-integer        send integer seconds (fluentd v0.12) instead of EventTime

Delivery:
  --ack                    ask the server to acknowledge every batch; success means acknowledged
${COMPRESSION_HELP}
  --mode MODE              packedForward (default), forward or message
  --retry-limit N          connection attempts before giving up when the server never answers (default 5)
  --flush-timeout MS       how long to wait at the end of the input for everything to be delivered
                           (default 30000)
  -q, --quiet              no progress line and no summary

An authentication, certificate or TLS error ends the command at once: retrying cannot fix it.

Exit status: 0 everything delivered (acknowledged with --ack); 1 some records not delivered;
2 bad flags; 3 the server could not be reached or used (N failed attempts, or an authentication,
certificate or TLS error); 4 bad input items (the others were delivered).`

const SPEC = {
  ...CONNECTION,
  format: { type: 'string', short: 'f' },
  json: { type: 'boolean' },
  msgpack: { type: 'boolean' },
  none: { type: 'boolean' },
  'message-key': { type: 'string' },
  'time-key': { type: 'string' },
  'event-time': { type: 'string' },
  'time-as-integer': { type: 'boolean' },
  ack: { type: 'boolean' },
  ...COMPRESSION,
  mode: { type: 'string' },
  'retry-limit': { type: 'string' },
  'flush-timeout': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean' },
} as const

/** Pause reading above this many buffered bytes; resume below half of it. */
const HIGH_WATER = 16 * 1024 * 1024

function format(v: Record<string, unknown>): Format {
  const chosen = [v.json && 'json', v.msgpack && 'msgpack', v.none && 'none', v.format].filter(Boolean) as string[]
  if (new Set(chosen).size > 1) throw new UsageError(`cat: choose one input format, got ${chosen.join(', ')}`)
  const f = chosen[0] ?? 'json'
  if (f === 'text') return 'none'
  if (f !== 'json' && f !== 'msgpack' && f !== 'none') throw new UsageError(`cat: --format must be json, msgpack or none, got "${f}"`)
  return f
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export async function cat(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse('cat', SPEC, argv)
  if (v.help) {
    process.stdout.write(CAT_HELP + '\n')
    return EXIT.ok
  }
  const [tag, ...files] = positionals
  if (tag === undefined) throw new UsageError('cat: a tag is required')
  const fmt = format(v)
  const retryLimit = integer('cat', 'retry-limit', v['retry-limit'], 1, 1_000_000) ?? 5
  const flushTimeout = integer('cat', 'flush-timeout', v['flush-timeout'], 0, 2 ** 31 - 1) ?? 30_000
  const mode = v.mode as FluentClientOptions['mode'] | undefined
  if (mode !== undefined && !['packedForward', 'forward', 'message'].includes(mode)) throw new UsageError(`cat: --mode must be packedForward, forward or message`)
  const fixedTime = v['event-time'] === undefined ? undefined : parseTime(/^\d+(\.\d+)?$/.test(v['event-time'] as string) ? Number(v['event-time']) : v['event-time'])
  if (v['event-time'] !== undefined && fixedTime === undefined) throw new UsageError(`cat: --event-time: not seconds or a date string: "${String(v['event-time'])}"`)
  const options: FluentClientOptions = {
    ...connection('cat', v),
    requireAck: v.ack === true,
    ...compression('cat', v),
    ...(mode === undefined ? {} : { mode }),
    ...(v['time-as-integer'] ? { timeAsInteger: true } : {}),
    // The exit code reports the outcome; the process must not also wait at exit.
    exitFlushTimeoutMs: 0,
  }
  let client: FluentClient
  try {
    client = new FluentClient(options)
  } catch (e) {
    throw new UsageError(`cat: ${(e as Error).message}`)
  }
  const reach = new Reach(client, retryLimit)
  const bad: Bad[] = []
  const quiet = v.quiet === true
  const onBad = (b: Bad) => {
    bad.push(b)
    if (bad.length <= 100) process.stderr.write(`fluent-native cat: ${b.where}: ${b.reason}\n`)
    else if (bad.length === 101) process.stderr.write('fluent-native cat: more bad input items; only the count is reported from here on\n')
  }
  const started = performance.now()
  let read = 0
  let refused = 0
  const progress = new Progress(quiet ? undefined : process.stderr, (seconds) => {
    const s = client.stats()
    const rate = seconds > 0 ? Math.round(s.sent / seconds) : 0
    return `${read} read, ${s.sent} ${v.ack ? 'acknowledged' : 'sent'} (${rate}/s), ${s.dropped} dropped, ${bad.length} bad`
  })
  // Reading may wait on stdin for ever: giving up on the server ends it too.
  const input = items(files, { format: fmt, messageKey: (v['message-key'] as string | undefined) ?? 'message', timeKey: v['time-key'] as string | undefined }, onBad)
  const gaveUp = reach.givenUp().then(() => undefined)
  try {
    for (;;) {
      const next = await Promise.race([input.next(), gaveUp])
      if (next === undefined || next.done === true) break
      const item: Item = next.value
      read++
      try {
        if (!client.emit(tag, item.record, item.time ?? fixedTime)) refused++
      } catch (e) {
        onBad({ where: `item ${read}`, reason: (e as Error).message })
      }
      if (reach.gaveUp) break
      if ((read & 255) === 0 && client.stats().queuedBytes > HIGH_WATER) {
        while (client.stats().queuedBytes > HIGH_WATER / 2 && !reach.gaveUp) await sleep(5)
      }
    }
  } finally {
    progress.stop()
    reach.stop()
  }
  if (reach.gaveUp) {
    // stdin may still be open (a terminal, a pipe that has not ended): nothing more is read.
    process.stdin.destroy()
  }
  // --flush-timeout bounds the whole wait after the input, the first connection included.
  const report = await closeWithin(client, reach, flushTimeout)
  const seconds = (performance.now() - started) / 1000
  const delivered = report.sent
  const lost = report.dropped + report.pending + report.rejected
  if (!quiet) {
    const rate = seconds > 0 ? Math.round(delivered / seconds) : delivered
    process.stderr.write(
      `fluent-native cat: ${read} read, ${delivered} ${v.ack ? 'acknowledged' : 'delivered'} to ${where(options)}, ` +
        `${lost} not delivered, ${bad.length} bad input item(s), ${seconds.toFixed(2)} s (${rate}/s)\n`,
    )
  }
  if (reach.gaveUp || (!reach.connected && delivered === 0 && read > bad.length)) {
    const why = reach.gaveUp ? reach.reason() : `no connection within --flush-timeout ${flushTimeout} ms${reach.lastError ? `: ${reach.lastError.message} (${reach.lastError.code})` : ''}`
    process.stderr.write(`fluent-native cat: cannot reach ${where(options)}: ${why}\n`)
    return EXIT.unreachable
  }
  if (lost > 0 || refused > 0 || delivered < read - bad.length) return EXIT.undelivered
  return bad.length > 0 ? EXIT.badInput : EXIT.ok
}
