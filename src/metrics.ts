/**
 * Prometheus metrics from `stats()`: `client.metrics()` renders the text exposition format, and
 * `collectMetrics(client, registry)` registers the same series with a prom-client registry (an
 * optional peer dependency; default metrics are never registered). Names follow Fluent Bit's
 * conventions: a `fluent_native_` prefix, `_total` on counters, units in the name.
 *
 * The table is the one place a metric is defined; a new stats field is one more row, and rows
 * may return several labelled samples. Connection and breaker state, and the per-server counters,
 * have one sample per server, labelled `server` (`host:port` or the socket path).
 */
import { createRequire } from 'node:module'
import { FluentError } from './errors.js'
import type { FluentStats, ServerStats, SpoolStats } from './types.js'

/** Prometheus labels added to every sample: `{ service: 'checkout' }`. */
export type Labels = Record<string, string>

interface Sample {
  labels: Labels
  value: number
}

interface Row {
  name: string
  type: 'counter' | 'gauge'
  help: string
  /** The stats() field it exports (for the test that every field is exported). */
  field?: keyof FluentStats
  samples: (s: FluentStats) => Sample[]
}

const one = (value: number): Sample[] => [{ labels: {}, value }]

/** One sample per server, labelled `server` (`host:port` or the socket path). */
const perServer = (value: (v: ServerStats) => number) => (s: FluentStats): Sample[] =>
  s.servers.map((v) => ({ labels: { server: v.address }, value: value(v) }))

/** Breaker states as stats() names them, and as label values (Prometheus style: snake_case). */
const BREAKER_STATES = [
  ['closed', 'closed'],
  ['halfOpen', 'half_open'],
  ['open', 'open'],
] as const

const VERSION = (createRequire(__filename)('../package.json') as { version: string }).version

/** A counter of `stats()[field]`. */
const counter = (name: string, field: keyof FluentStats, help: string): Row => ({
  name,
  type: 'counter',
  help,
  field,
  samples: (s) => one(s[field] as number),
})

/** A gauge of `stats()[field]`. */
const gauge = (name: string, field: keyof FluentStats, help: string): Row => ({ ...counter(name, field, help), type: 'gauge' })

/** `stats().spool` rows: 0 without a spool (every series always has its sample). */
function spoolRows(): Row[] {
  const row = (name: string, type: Row['type'], help: string, value: (v: SpoolStats) => number): Row => ({
    name,
    type,
    help,
    field: 'spool',
    samples: (s) => one(s.spool === null ? 0 : value(s.spool)),
  })
  return [
    row('fluent_native_spool_bytes', 'gauge', 'Bytes of spool segment files on disk.', (v) => v.bytes),
    row('fluent_native_spool_files', 'gauge', 'Spool segment files on disk.', (v) => v.files),
    row('fluent_native_spool_records', 'gauge', 'Records on disk in the spool, not yet settled.', (v) => v.records),
    row('fluent_native_spool_memory_only', 'gauge', '1 while the spool refuses batches (not opened, full, I/O error): they stay in memory only.', (v) => (v.state === 'memoryOnly' ? 1 : 0)),
    row('fluent_native_spool_appended_records_total', 'counter', 'Records written to the spool.', (v) => v.appended),
    row('fluent_native_spool_evicted_batches_total', 'counter', 'Batches let go of in memory because they are on disk (read back in turn).', (v) => v.evicted),
    row('fluent_native_spool_not_spooled_batches_total', 'counter', 'Batches kept in memory only because the spool refused them.', (v) => v.notSpooled),
    row('fluent_native_spool_corrupted_total', 'counter', 'Damaged stretches skipped on replay (each at least one batch lost).', (v) => v.corrupted),
    row('fluent_native_spool_corrupted_bytes_total', 'counter', 'Bytes of the damaged stretches skipped on replay.', (v) => v.corruptedBytes),
    row('fluent_native_spool_syncs_total', 'counter', 'fsync calls made for spool data.', (v) => v.syncs),
  ]
}

const ROWS: Row[] = [
  counter('fluent_native_records_emitted_total', 'emitted', 'Records accepted by emit, emitMany and emitRaw.'),
  counter('fluent_native_records_refused_total', 'refused', 'Records refused at emit (overflow policy, closed client); in dropped too unless kept for the failure handler.'),
  gauge('fluent_native_records_pending', 'pending', 'Records accepted and not yet settled: buffered, being sent, or waiting for the failure handler.'),
  counter('fluent_native_records_sent_total', 'sent', 'Records delivered (acknowledged, with requireAck).'),
  counter('fluent_native_records_dropped_total', 'dropped', 'Records dropped by the overflow policy, after close, or left at a deadline.'),
  counter('fluent_native_records_rejected_total', 'rejected', 'Records the server rejected on every attempt.'),
  counter('fluent_native_records_duplicates_total', 'duplicates', 'Records written again after a write whose ack never came (each may have arrived twice).'),
  counter('fluent_native_records_handed_over_total', 'handedOver', 'Records handed to the failure handler.'),
  counter('fluent_native_records_handled_total', 'handled', 'Records the failure handler took.'),
  counter('fluent_native_records_handler_overflow_total', 'handlerOverflow', "Records dropped without reaching the failure handler (over errorHandlerMaxBytes)."),
  counter('fluent_native_ndjson_retagged_total', 'retagged', 'NDJSON lines sent under the fallback tag because the tag they named cannot be used.'),
  counter('fluent_native_batches_sent_total', 'batchesSent', 'Batches (requests) written.'),
  counter('fluent_native_sent_bytes_total', 'bytesSent', 'Bytes written to the servers.'),
  counter('fluent_native_retries_total', 'retries', 'Batches written again after a failure.'),
  counter('fluent_native_connects_total', 'connects', 'Connections established.'),
  counter('fluent_native_reconnects_total', 'reconnects', 'Connections re-established after a loss.'),
  counter('fluent_native_errors_total', 'errors', 'Errors the writer reported.'),
  counter('fluent_native_unhandled_errors_total', 'unhandledErrors', "Errors with no 'error' listener."),
  counter('fluent_native_events_lost_total', 'eventsLost', 'Client events lost because the JS thread was too far behind.'),
  gauge('fluent_native_buffer_bytes', 'queuedBytes', 'Bytes buffered (waiting, being written, awaiting ack).'),
  gauge('fluent_native_buffer_records', 'queuedRecords', 'Records buffered.'),
  gauge('fluent_native_in_flight_batches', 'inFlightBatches', 'Batches awaiting an ack.'),
  { name: 'fluent_native_connected', type: 'gauge', help: '1 while connected to this server.', field: 'connected', samples: perServer((v) => (v.connected ? 1 : 0)) },
  {
    name: 'fluent_native_breaker_state',
    type: 'gauge',
    help: "This server's circuit breaker state: 1 for the current one.",
    field: 'breaker',
    samples: (s) => s.servers.flatMap((v) => BREAKER_STATES.map(([from, state]) => ({ labels: { server: v.address, state }, value: v.breaker === from ? 1 : 0 }))),
  },
  { name: 'fluent_native_server_healthy', type: 'gauge', help: '1 while this server is usable (not failing, breaker not open).', field: 'servers', samples: perServer((v) => (v.healthy ? 1 : 0)) },
  { name: 'fluent_native_server_records_sent_total', type: 'counter', help: 'Records delivered to this server.', field: 'servers', samples: perServer((v) => v.sent) },
  { name: 'fluent_native_server_batches_sent_total', type: 'counter', help: 'Batches written to this server.', field: 'servers', samples: perServer((v) => v.batches) },
  { name: 'fluent_native_server_errors_total', type: 'counter', help: 'Failed connects and connections this server ended or let time out.', field: 'servers', samples: perServer((v) => v.errors) },
  { name: 'fluent_native_server_in_flight_batches', type: 'gauge', help: 'Batches written to this server awaiting their ack.', field: 'servers', samples: perServer((v) => v.inFlight) },
  counter('fluent_native_records_replayed_total', 'replayed', 'Records read back from a spool an earlier process left.'),
  counter('fluent_native_records_spooled_total', 'spooled', 'Records left on disk in the spool at the close (0 while running: they are pending).'),
  ...spoolRows(),
  { name: 'fluent_native_info', type: 'gauge', help: 'Always 1; the version of fluent-native as a label.', samples: () => [{ labels: { version: VERSION }, value: 1 }] },
]

/** The metric names, for documentation and tests. */
export const METRIC_NAMES: readonly string[] = ROWS.map((r) => r.name)

/** The stats() fields the metrics export (every one: __test__/metrics.spec.ts checks it). */
export const EXPORTED_STATS: readonly string[] = [...new Set(ROWS.flatMap((r) => (r.field === undefined ? [] : [r.field])))]

/** Anything with a FluentClient's `stats()`. */
export interface HasStats {
  /** A snapshot of the counters. */
  stats(): FluentStats
}

function checkLabels(labels: Labels): void {
  for (const [k, v] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith('__')) {
      throw new FluentError('ERR_FLUENT_CONFIG', `metrics: "${k}" is not a valid Prometheus label name`)
    }
    if (typeof v !== 'string') throw new FluentError('ERR_FLUENT_CONFIG', `metrics: label "${k}" must be a string`)
  }
}

const escapeValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeValue(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Text exposition format 0.0.4 of one stats snapshot. */
export function renderMetrics(stats: FluentStats, labels: Labels = {}): string {
  checkLabels(labels)
  let out = ''
  for (const row of ROWS) {
    out += `# HELP ${row.name} ${escapeHelp(row.help)}\n# TYPE ${row.name} ${row.type}\n`
    for (const s of row.samples(stats)) out += `${row.name}${labelText({ ...labels, ...s.labels })} ${s.value}\n`
  }
  return out
}

/** The subset of prom-client's Registry this needs. */
export interface MetricsRegistry {
  /** Adds a metric. */
  registerMetric(metric: unknown): void
  /** The metric of that name, if registered. */
  getSingleMetric(name: string): unknown
  /** Removes the metric of that name. */
  removeSingleMetric(name: string): void
}

/** Options of `collectMetrics()`. */
export interface CollectOptions {
  /** Added to every sample, e.g. `{ client: 'audit' }`; needed to tell several clients apart. */
  labels?: Labels
}

/** One registered metric: prom-client calls `get()` at each scrape. Several clients may share it. */
class Collected {
  readonly name: string
  readonly help: string
  readonly type: Row['type']
  readonly aggregator = 'sum'
  readonly sources = new Map<HasStats, Labels>()
  readonly #row: Row

  constructor(row: Row) {
    this.#row = row
    this.name = row.name
    this.help = row.help
    this.type = row.type
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Labels; value: number }> } {
    const values: Array<{ labels: Labels; value: number }> = []
    for (const [client, labels] of this.sources) {
      const stats = client.stats()
      for (const s of this.#row.samples(stats)) values.push({ labels: { ...labels, ...s.labels }, value: s.value })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

const perRegistry = new WeakMap<MetricsRegistry, Map<string, Collected>>()

function defaultRegistry(): MetricsRegistry {
  try {
    return (createRequire(__filename)('prom-client') as { register: MetricsRegistry }).register
  } catch (e) {
    throw new FluentError('ERR_FLUENT_CONFIG', 'collectMetrics: prom-client is not installed (npm install prom-client) and no registry was given', { cause: e })
  }
}

/**
 * Registers the client's metrics with `registry` (default: prom-client's global registry). Every
 * scrape reads `client.stats()` once per metric. Returns a function that unregisters this client.
 * Collecting a second client needs distinct `labels`.
 */
export function collectMetrics(client: HasStats, registry?: MetricsRegistry, options: CollectOptions = {}): () => void {
  const reg = registry ?? defaultRegistry()
  const labels = options.labels ?? {}
  checkLabels(labels)
  let mine = perRegistry.get(reg)
  if (mine === undefined) perRegistry.set(reg, (mine = new Map()))
  const key = labelText(labels)
  for (const row of ROWS) {
    const m = mine.get(row.name)
    if (m === undefined) continue
    for (const [other, l] of m.sources) {
      if (other !== client && labelText(l) === key) {
        throw new FluentError('ERR_FLUENT_CONFIG', `collectMetrics: another client is registered with the same labels ${key || '{}'}; pass distinct options.labels`)
      }
    }
  }
  for (const row of ROWS) {
    let m = mine.get(row.name)
    if (m === undefined || reg.getSingleMetric(row.name) !== m) {
      m = new Collected(row)
      reg.registerMetric(m)
      mine.set(row.name, m)
    }
    m.sources.set(client, labels)
  }
  const table = mine
  return () => {
    for (const row of ROWS) {
      const m = table.get(row.name)
      if (m === undefined) continue
      m.sources.delete(client)
      if (m.sources.size === 0 && reg.getSingleMetric(row.name) === m) {
        reg.removeSingleMetric(row.name)
        table.delete(row.name)
      }
    }
  }
}
