/**
 * `fluent-native bench`: a quick throughput run. Without a server flag it starts a FluentReceiver
 * in this process (its decoding threads then share the machine with the client, as a local
 * sidecar would).
 */
import { FluentClient } from '../client.js'
import { FluentReceiver } from '../receiver.js'
import type { FluentClientOptions } from '../types.js'
import { COMPRESSION, COMPRESSION_HELP, CONNECTION, CONNECTION_HELP, EXIT, UsageError, compression, connection, integer, parse, where } from './args.js'
import { Reach, closeWithin } from './reach.js'
import { SHAPES } from './shapes.js'
import type { Shape } from './shapes.js'

export const BENCH_HELP = `usage: fluent-native bench [options]

Sends records as fast as the client takes them and prints events/s and CPU time per event.
Without --host/--port/--unix it starts a receiver in this process on a free loopback port.

${CONNECTION_HELP}

  --records N              records to send (default 1000000)
  --duration S             send for S seconds instead of a count
  --shape SHAPE            small (default, ~70 bytes), medium (~600 bytes) or large (~1.1 KiB)
  --ack                    requireAck: count only acknowledged records
${COMPRESSION_HELP}
  --json                   print the result as one JSON object

Against a server that cannot be reached (5 failed connection attempts, or an authentication,
certificate or TLS error) it stops and exits 3; otherwise the final drain waits at most 60 s.

CPU per event is this process's user+system time (all threads: the writer, and the receiver
when it runs here) divided by the records delivered.`

const SPEC = {
  ...CONNECTION,
  records: { type: 'string' },
  duration: { type: 'string' },
  shape: { type: 'string' },
  ack: { type: 'boolean' },
  ...COMPRESSION,
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Failed connection attempts (before any connection) after which the run stops. */
const ATTEMPTS = 5
/** The longest the final drain waits for a reachable server. */
const DRAIN_MS = 60_000

export async function bench(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse('bench', SPEC, argv)
  if (v.help) {
    process.stdout.write(BENCH_HELP + '\n')
    return EXIT.ok
  }
  if (positionals.length > 0) throw new UsageError(`bench: unexpected argument "${positionals[0]}"`)
  const shape = ((v.shape as string | undefined) ?? 'small') as Shape
  if (!Object.hasOwn(SHAPES, shape)) throw new UsageError(`bench: --shape must be small, medium or large, got "${shape}"`)
  if (v.records !== undefined && v.duration !== undefined) throw new UsageError('bench: --records and --duration exclude each other')
  const duration = integer('bench', 'duration', v.duration, 1, 3600)
  const records = duration === undefined ? (integer('bench', 'records', v.records, 1, 1e10) ?? 1_000_000) : Infinity
  // Every flag is checked before the in-process receiver starts: a usage error must not leave it running.
  const compress = compression('bench', v)
  const external = ['host', 'port', 'unix', 'socket'].some((k) => v[k] !== undefined)
  const receiver = external ? undefined : await FluentReceiver.listen({ threads: 1 })
  const target: FluentClientOptions = external ? connection('bench', v) : { port: receiver!.port }
  const make = SHAPES[shape]
  const client = new FluentClient({
    ...target,
    requireAck: v.ack === true,
    ...compress,
    overflow: 'dropNewest',
    exitFlushTimeoutMs: 0,
  })
  const reach = new Reach(client, ATTEMPTS)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const until = duration === undefined ? Infinity : t0 + duration * 1000
  let i = 0
  // Emit in slices, yielding to the event loop between them, and wait while the buffer is over
  // half full: a producer that outruns the network is measured, not its drops.
  while (i < records && performance.now() < until) {
    const end = Math.min(records, i + 1000)
    for (; i < end; i++) client.emit('bench', make(i))
    if (client.stats().queuedBytes > 32 * 1024 * 1024) {
      while (client.stats().queuedBytes > 16 * 1024 * 1024 && !reach.gaveUp) await sleep(1)
    }
    if (reach.gaveUp) break
    await new Promise((resolve) => setImmediate(resolve))
  }
  const report = await closeWithin(client, reach, DRAIN_MS)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  await receiver?.close()
  if (reach.gaveUp) {
    process.stderr.write(`fluent-native bench: cannot reach ${where(target)}: ${reach.reason()}${report.sent > 0 ? ` (${report.sent} records were delivered first)` : ''}\n`)
    return EXIT.unreachable
  }
  const result = {
    shape,
    records: report.sent,
    dropped: report.dropped + report.pending,
    seconds: Number(seconds.toFixed(3)),
    eventsPerSecond: Math.round(report.sent / seconds),
    cpuMicrosPerEvent: Number(((cpu.user + cpu.system) / Math.max(1, report.sent)).toFixed(3)),
    server: external ? where(target) : `in-process FluentReceiver on 127.0.0.1:${receiver!.port}`,
    ack: v.ack === true,
    gzip: compress.compress === 'gzip',
    compress: compress.compress ?? false,
  }
  if (v.json) process.stdout.write(JSON.stringify(result) + '\n')
  else {
    process.stdout.write(
      `${result.records} ${shape} records in ${result.seconds} s: ${result.eventsPerSecond} events/s, ` +
        `${result.cpuMicrosPerEvent} µs CPU per event (${result.server}${result.ack ? ', ack' : ''}${result.compress ? `, ${result.compress}` : ''})` +
        `${result.dropped > 0 ? `, ${result.dropped} dropped` : ''}\n`,
    )
  }
  return result.dropped > 0 ? EXIT.undelivered : EXIT.ok
}
