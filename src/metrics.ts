/**
 * Prometheus metrics from `stats()`: `client.metrics()` renders the text exposition format, and
 * `collectMetrics(client, registry)` registers the same series with a prom-client registry (an
 * optional peer dependency; default metrics are never registered). Names follow Fluent Bit's
 * conventions: a `fluent_native_` prefix, `_total` on counters, units in the name.
 *
 * The table is the one place a metric is defined; a new stats field (per-server counters, say)
 * is one more row, and rows may return several labelled samples.
 */
import { createRequire } from 'node:module'
import { FluentError } from './errors.js'
import type { FluentStats } from './types.js'

export type Labels = Record<string, string>

interface Sample {
  labels: Labels
  value: number
}

interface Row {
  name: string
  type: 'counter' | 'gauge'
  help: string
  samples: (s: FluentStats) => Sample[]
}

const one = (value: number): Sample[] => [{ labels: {}, value }]

const BREAKER_STATES = ['closed', 'halfOpen', 'open'] as const

const ROWS: Row[] = [
  { name: 'fluent_native_records_emitted_total', type: 'counter', help: 'Records accepted by emit, emitMany and emitRaw.', samples: (s) => one(s.emitted) },
  { name: 'fluent_native_records_sent_total', type: 'counter', help: 'Records delivered (acknowledged, with requireAck).', samples: (s) => one(s.sent) },
  { name: 'fluent_native_records_dropped_total', type: 'counter', help: 'Records dropped by the overflow policy, after close, or left at a deadline.', samples: (s) => one(s.dropped) },
  { name: 'fluent_native_records_rejected_total', type: 'counter', help: 'Records the server rejected on every attempt.', samples: (s) => one(s.rejected) },
  { name: 'fluent_native_batches_sent_total', type: 'counter', help: 'Batches (requests) written.', samples: (s) => one(s.batchesSent) },
  { name: 'fluent_native_sent_bytes_total', type: 'counter', help: 'Bytes written to the server.', samples: (s) => one(s.bytesSent) },
  { name: 'fluent_native_retries_total', type: 'counter', help: 'Batches written again after a failure.', samples: (s) => one(s.retries) },
  { name: 'fluent_native_connects_total', type: 'counter', help: 'Connections established.', samples: (s) => one(s.connects) },
  { name: 'fluent_native_reconnects_total', type: 'counter', help: 'Connections re-established after a loss.', samples: (s) => one(s.reconnects) },
  { name: 'fluent_native_errors_total', type: 'counter', help: 'Errors the writer reported.', samples: (s) => one(s.errors) },
  { name: 'fluent_native_unhandled_errors_total', type: 'counter', help: "Errors with no 'error' listener.", samples: (s) => one(s.unhandledErrors) },
  { name: 'fluent_native_events_lost_total', type: 'counter', help: 'Client events lost because the JS thread was too far behind.', samples: (s) => one(s.eventsLost) },
  { name: 'fluent_native_buffer_bytes', type: 'gauge', help: 'Bytes buffered (waiting, being written, awaiting ack).', samples: (s) => one(s.queuedBytes) },
  { name: 'fluent_native_buffer_records', type: 'gauge', help: 'Records buffered.', samples: (s) => one(s.queuedRecords) },
  { name: 'fluent_native_in_flight_batches', type: 'gauge', help: 'Batches awaiting an ack.', samples: (s) => one(s.inFlightBatches) },
  { name: 'fluent_native_connected', type: 'gauge', help: '1 while connected to the server.', samples: (s) => one(s.connected ? 1 : 0) },
  {
    name: 'fluent_native_breaker_state',
    type: 'gauge',
    help: 'Circuit breaker state: 1 for the current one.',
    samples: (s) => BREAKER_STATES.map((state) => ({ labels: { state }, value: s.breaker === state ? 1 : 0 })),
  },
]

/** The metric names, for documentation and tests. */
export const METRIC_NAMES: readonly string[] = ROWS.map((r) => r.name)

interface HasStats {
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
  registerMetric(metric: unknown): void
  getSingleMetric(name: string): unknown
  removeSingleMetric(name: string): void
}

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
