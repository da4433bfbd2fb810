/**
 * Turns the driver's results into a markdown table with ratios and a hand-drawn SVG chart.
 * Pure functions of the Results object: no measured figure lives in this file.
 */
import type { Shape } from '../src/cli/shapes.js'
import type { Kind, Scenario } from './contenders.ts'

export interface PhaseOutcome {
  ok: boolean
  /** Why the phase does not count (delivery check, crash, timeout). */
  failure?: string
  /** CPU (cores) the sink used during the measurement. */
  sinkCores: number
  /** CPU (cores) that neither the client process nor the sink used: other load on a shared machine. */
  foreignCores: number
}

export interface ThroughputMetrics extends PhaseOutcome {
  events: number
  eventsPerSec: number
  mainCpuUsPerEvent: number
  procCpuUsPerEvent: number
  peakRssMB: number
  wireBytesPerEvent: number
  requests: number
  emitMs: number
  deliveredMs: number
  elu: number
  mainCpuSource: string
  /** BENCH_REPEATS runs: every run's delivered events/s and main-thread us/event, in run order; the metrics are the median run's (by events/s). */
  eventsPerSecRuns?: number[]
  mainCpuRuns?: number[]
}

export interface PacedMetrics extends PhaseOutcome {
  targetRate: number
  achievedRate: number
  loopP50Ms: number
  loopP99Ms: number
  loopMaxMs: number
  mainBusy: number
  elu: number
  procCpu: number
  rssMB: number
  mainCpuSource: string
  /** BENCH_PIN runs: whether the threads were placed as asked, and why not. */
  pinned?: boolean
  pinError?: string
  /** BENCH_REPEATS runs: every run's loop p99 (ms), in run order; the metrics are the median run's. */
  loopP99Runs?: number[]
  /** The CPU stand-in: ns it busy-waited per record in this run. */
  spinNs?: number
  /** ...and in each run, with BENCH_REPEATS. */
  spinNsRuns?: number[]
}

export interface Row {
  shape: Shape
  id: string
  label: string
  short: string
  scenario: Scenario
  kind: Kind
  throughput: ThroughputMetrics | null
  paced: PacedMetrics | null
  /** Things worth knowing that do not invalidate the numbers (e.g. the sink saw a wrong `size` option). */
  notes: string[]
}

export interface Results {
  meta: {
    date: string
    node: string
    cpus: number
    cpuModel: string
    events: number
    rate: number
    pacedMs: number
    quick: boolean
    sinkThreads: number
    /** Paced runs per contender and shape (BENCH_REPEATS), and whether threads were placed (BENCH_PIN). */
    repeats?: number
    pin?: boolean
    commit: string
    /** Modification times of index.js and the .node addon, which git does not track. */
    build: { indexJs: string; addon: string; staleJs: boolean }
    durationS: number
  }
  shapes: Record<string, { jsonBytes: number; msgpackBytes: number }>
  rows: Row[]
}

type Phase = 'throughput' | 'paced'

interface Column {
  key: string
  phase: Phase
  title: string
  short: string
  better: 'higher' | 'lower'
  fmt: (v: number) => string
}

const fmtRate = (v: number): string =>
  v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(0)} k` : v.toFixed(0)
const fmtNum = (d: number) => (v: number) => v.toFixed(d)
const fmtPct = (v: number): string => `${(v * 100).toFixed(0)} %`

export const COLUMNS: readonly Column[] = [
  { key: 'eventsPerSec', phase: 'throughput', title: 'delivered events/s', short: 'events/s', better: 'higher', fmt: fmtRate },
  { key: 'mainCpuUsPerEvent', phase: 'throughput', title: 'main-thread CPU µs/event', short: 'main CPU/ev', better: 'lower', fmt: fmtNum(2) },
  { key: 'procCpuUsPerEvent', phase: 'throughput', title: 'process CPU µs/event', short: 'process CPU/ev', better: 'lower', fmt: fmtNum(2) },
  { key: 'peakRssMB', phase: 'throughput', title: 'peak RSS MB', short: 'peak RSS', better: 'lower', fmt: fmtNum(0) },
  { key: 'mainBusy', phase: 'paced', title: 'main thread busy', short: 'main busy', better: 'lower', fmt: fmtPct },
  { key: 'loopP99Ms', phase: 'paced', title: 'event-loop delay p99 ms', short: 'loop p99', better: 'lower', fmt: fmtNum(2) },
]

/** A paced run counts only if it sustained the target rate (a client that falls behind emits less). */
const SUSTAINED = 0.95

function metric(row: Row, col: Column): number | undefined {
  const phase = col.phase === 'throughput' ? row.throughput : row.paced
  if (!phase || !phase.ok) return undefined
  if (col.phase === 'paced' && row.paced && row.paced.achievedRate < SUSTAINED * row.paced.targetRate) return undefined
  const v = (phase as unknown as Record<string, number>)[col.key]
  return Number.isFinite(v) ? v : undefined
}

function cell(row: Row, col: Column): string {
  const phase = col.phase === 'throughput' ? row.throughput : row.paced
  if (!phase) return '–'
  if (!phase.ok) return 'FAILED'
  const v = (phase as unknown as Record<string, number>)[col.key]
  return Number.isFinite(v) ? col.fmt(v) : '–'
}

export interface Ratio {
  value: number
  against: Row
}

/** How many times better `row` is than the best row of `pool` (> 1: better), per column. */
export function ratio(row: Row, pool: Row[], col: Column): Ratio | undefined {
  const mine = metric(row, col)
  if (mine === undefined) return undefined
  let best: { v: number; row: Row } | undefined
  for (const r of pool) {
    const v = metric(r, col)
    if (v === undefined) continue
    if (!best || (col.better === 'higher' ? v > best.v : v < best.v)) best = { v, row: r }
  }
  if (!best || mine <= 0 || best.v <= 0) return undefined
  return { value: col.better === 'higher' ? mine / best.v : best.v / mine, against: best.row }
}

const fmtRatio = (r: Ratio | undefined): string => (r ? `${r.value.toFixed(2)}×` : 'n/a')

/** Why there is no ratio for `row` in this column. */
function whyNot(row: Row, pool: Row[], col: Column): string {
  const phase = col.phase === 'throughput' ? row.throughput : row.paced
  if (!phase) return 'not run'
  if (!phase.ok) return `${row.short} FAILED`
  if (col.phase === 'paced' && row.paced && row.paced.achievedRate < SUSTAINED * row.paced.targetRate) {
    return `${row.short} reached ${fmtRate(row.paced.achievedRate)}/s`
  }
  if (!pool.length) return 'no JS client in this run'
  if (col.phase === 'paced') return `no JS client kept up with ${fmtRate(row.paced?.targetRate ?? 0)}/s`
  return 'no JS client delivered every record'
}

const SCENARIOS: readonly Scenario[] = ['plain', 'ack', 'gzip', 'tls']
const SCENARIO_TITLE: Record<Scenario, string> = { plain: 'plain', ack: 'with acks', gzip: 'gzip', tls: 'TLS 1.3' }

function groups(results: Results): Array<{ shape: Shape; scenario: Scenario; rows: Row[] }> {
  const out: Array<{ shape: Shape; scenario: Scenario; rows: Row[] }> = []
  const shapes = [...new Set(results.rows.map((r) => r.shape))]
  for (const shape of shapes) {
    for (const scenario of SCENARIOS) {
      const rows = results.rows.filter((r) => r.shape === shape && r.scenario === scenario)
      if (rows.length) out.push({ shape, scenario, rows })
    }
  }
  return out
}

/** The ratio table: fluent-native against the best published JS client of the same scenario and shape. */
export function ratioTable(results: Results): string {
  const rate = fmtRate(results.meta.rate)
  const lines = [
    `| shape | scenario | ${COLUMNS.map((c) => (c.phase === 'paced' ? `${c.title} @${rate}/s` : c.title)).join(' | ')} |`,
    `|---|---|${COLUMNS.map(() => '---').join('|')}|`,
  ]
  for (const g of groups(results)) {
    const pool = g.rows.filter((r) => r.kind === 'js')
    for (const row of g.rows.filter((r) => r.kind === 'native')) {
      const cells = COLUMNS.map((c) => {
        const r = ratio(row, pool, c)
        return r ? `**${fmtRatio(r)}** vs ${r.against.short}` : `n/a (${whyNot(row, pool, c)})`
      })
      lines.push(`| ${g.shape} | ${SCENARIO_TITLE[g.scenario]} | ${cells.join(' | ')} |`)
    }
  }
  return lines.join('\n')
}

/** One line per FAILED run, for the README. */
export function failures(results: Results): string[] {
  const out: string[] = []
  for (const row of results.rows) {
    for (const [phase, p] of [['throughput', row.throughput], ['paced', row.paced]] as const) {
      if (p && !p.ok) out.push(`- FAILED: ${row.shape} · ${row.label}, ${phase}: ${p.failure}`)
    }
  }
  return out
}

export function markdown(results: Results): string {
  const m = results.meta
  const out: string[] = []
  out.push(`# Benchmark results${m.quick ? ' (quick run)' : ''}`)
  out.push('')
  out.push(
    `${m.date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · commit ${m.commit} · ` +
      `${m.events.toLocaleString('en-US')} events per throughput run · paced runs at ${m.rate.toLocaleString('en-US')} events/s for ${m.pacedMs} ms · ` +
      `fluent-sink with ${m.sinkThreads} thread(s) on the same machine · whole run ${m.durationS.toFixed(0)} s`,
  )
  out.push('')
  if ((m.repeats ?? 1) > 1 || m.pin) {
    out.push(
      [
        (m.repeats ?? 1) > 1
          ? `Runs: ${m.repeats} per contender, shape and phase, taken in turn round the contenders; each row is the run with the median loop p99 (paced) or the median delivered events/s (throughput), and the notes list every run's figure.`
          : '',
        m.pin
          ? "Threads placed with taskset: the measured process's main thread alone on CPU 0; its other threads (writer, V8 helpers), fluent-sink and the driver on CPU 1."
          : '',
      ]
        .filter(Boolean)
        .join(' '),
    )
    out.push('')
  }
  out.push(`Build measured: index.js from ${m.build.indexJs}, addon from ${m.build.addon}${m.build.staleJs ? ' (**index.ts was newer than index.js**)' : ''}.`)
  out.push('')
  out.push('Record shapes (bytes of one record as JSON / as msgpack):')
  out.push('')
  for (const [name, s] of Object.entries(results.shapes)) out.push(`- ${name}: ${s.jsonBytes} B / ${s.msgpackBytes} B`)
  out.push('')
  out.push('## fluent-native against the best published JS client (× better; > 1 means fluent-native wins)')
  out.push('')
  out.push(ratioTable(results))
  out.push('')
  out.push(
    'Sink CPU and other load are given as throughput run / paced run. ' +
      `Paced columns compare only runs that sustained ≥ ${SUSTAINED * 100} % of the target rate. ` +
      'FAILED rows (not every record arrived, or the run crashed) are left out of every ratio.',
  )
  out.push('')
  out.push('## All results')
  for (const shape of [...new Set(results.rows.map((r) => r.shape))]) {
    out.push('')
    out.push(`### ${shape} records`)
    out.push('')
    out.push(
      `| scenario | client | ${COLUMNS.map((c) => (c.phase === 'paced' ? `${c.title} @${fmtRate(m.rate)}/s` : c.title)).join(' | ')} | wire B/event | achieved rate | sink CPU (cores) | other load (cores) |`,
    )
    out.push(`|---|---|${COLUMNS.map(() => '---:').join('|')}|---:|---:|---:|---:|`)
    for (const g of groups(results).filter((x) => x.shape === shape)) {
      const pool = g.rows.filter((r) => r.kind === 'js')
      for (const row of g.rows) {
        const name = row.kind === 'native' ? `**${row.label}**` : row.label
        const wire = row.throughput?.ok ? row.throughput.wireBytesPerEvent.toFixed(1) : '–'
        const achieved = row.paced?.ok ? fmtRate(row.paced.achievedRate) : row.paced ? 'FAILED' : '–'
        const cores = (f: (p: PhaseOutcome) => number): string =>
          [row.throughput, row.paced]
            .map((p) => (p && Number.isFinite(f(p)) ? f(p).toFixed(2) : '–'))
            .join(' / ')
        out.push(
          `| ${SCENARIO_TITLE[g.scenario]} | ${name} | ${COLUMNS.map((c) => cell(row, c)).join(' | ')} | ${wire} | ${achieved} | ${cores((p) => p.sinkCores)} | ${cores((p) => p.foreignCores)} |`,
        )
        if (row.kind === 'native') {
          out.push(`| | × vs best JS | ${COLUMNS.map((c) => fmtRatio(ratio(row, pool, c))).join(' | ')} | | | | |`)
          const lean = g.rows.filter((r) => r.kind === 'lean')
          if (lean.length) out.push(`| | × vs lean msgpackr | ${COLUMNS.map((c) => fmtRatio(ratio(row, lean, c))).join(' | ')} | | | | |`)
        }
      }
    }
  }
  const odd: string[] = []
  for (const row of results.rows) {
    const where = `${row.shape} · ${row.label}`
    if (row.throughput && !row.throughput.ok) odd.push(`- **FAILED** ${where}, throughput: ${row.throughput.failure}`)
    if (row.paced && !row.paced.ok) odd.push(`- **FAILED** ${where}, paced: ${row.paced.failure}`)
    if (row.paced?.ok && row.paced.achievedRate < SUSTAINED * row.paced.targetRate) {
      odd.push(`- ${where}: reached only ${fmtRate(row.paced.achievedRate)} events/s of the ${fmtRate(row.paced.targetRate)} target`)
    }
    if (row.throughput?.eventsPerSecRuns) {
      const t = row.throughput
      odd.push(`- ${where}: each throughput run, delivered k events/s: ${t.eventsPerSecRuns!.map((v) => (v / 1e3).toFixed(0)).join(', ')}; main-thread us/event: ${t.mainCpuRuns!.map((v) => v.toFixed(2)).join(', ')}`)
    }
    if (row.paced?.spinNsRuns) odd.push(`- ${where}: busy-waited per record in each paced run, ns: ${row.paced.spinNsRuns.join(', ')}`)
    if (row.paced?.loopP99Runs) odd.push(`- ${where}: loop p99 of each paced run, ms: ${row.paced.loopP99Runs.map((v) => v.toFixed(2)).join(', ')}`)
    if (row.paced?.pinError) odd.push(`- ${where}: threads not placed (${row.paced.pinError})`)
    for (const n of row.notes) odd.push(`- ${where}: ${n}`)
  }
  if (odd.length) {
    out.push('')
    out.push('## Notes from this run')
    out.push('')
    out.push(...odd)
  }
  out.push('')
  return out.join('\n')
}

// ---------------------------------------------------------------------------------------------------
// SVG

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const SHAPE_COLOR: Record<string, string> = { small: '#4e79a7', medium: '#f28e2b', large: '#59a14f' }

export function svg(results: Results): string {
  const m = results.meta
  const shapes = [...new Set(results.rows.map((r) => r.shape))]
  const scenarios = SCENARIOS.filter((s) => results.rows.some((r) => r.scenario === s))
  const labelW = 150
  const barW = 150
  const valueW = 92
  const panelW = labelW + barW + valueW + 16
  const barH = 7
  const barGap = 1
  const groupGap = 7
  const groupH = shapes.length * (barH + barGap) - barGap + groupGap
  const titleH = 40
  const margin = 16
  const headerH = 64

  // Contenders per scenario, in the order they were run (same for every shape).
  const contenders = (scenario: Scenario, phase: Phase): Row[] => {
    const seen = new Map<string, Row>()
    for (const r of results.rows) {
      if (r.scenario !== scenario || seen.has(r.id)) continue
      if (phase === 'throughput' && r.kind === 'idle') continue
      seen.set(r.id, r)
    }
    return [...seen.values()]
  }
  const find = (id: string, shape: string): Row | undefined => results.rows.find((r) => r.id === id && r.shape === shape)

  const rowHeights = COLUMNS.map((c) => titleH + Math.max(...scenarios.map((s) => contenders(s, c.phase).length)) * groupH + 8)
  const width = margin * 2 + scenarios.length * panelW
  const height = headerH + rowHeights.reduce((a, b) => a + b, 0) + margin
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="11">`,
  )
  parts.push(`<rect width="100%" height="100%" fill="#ffffff"/>`)
  parts.push(
    `<text x="${margin}" y="22" font-size="15" font-weight="bold">fluent-native vs JS Forward-protocol clients, same receiver${m.quick ? ' (quick run)' : ''}</text>`,
  )
  parts.push(
    `<text x="${margin}" y="40" fill="#555">${esc(
      `${m.date.slice(0, 10)} · Node ${m.node} · ${m.cpus} cores · ${m.events.toLocaleString('en-US')} events per throughput run · paced at ${m.rate.toLocaleString('en-US')} events/s · ratios: fluent-native vs the best published JS client (× better)`,
    )}</text>`,
  )
  let lx = margin
  for (const s of shapes) {
    parts.push(`<rect x="${lx}" y="49" width="10" height="10" fill="${SHAPE_COLOR[s] ?? '#999'}"/>`)
    parts.push(`<text x="${lx + 14}" y="58">${esc(s)} records</text>`)
    lx += 110
  }

  let y0 = headerH
  COLUMNS.forEach((col, ci) => {
    scenarios.forEach((scenario, si) => {
      const x0 = margin + si * panelW
      const rows = contenders(scenario, col.phase)
      const values: number[] = []
      for (const r of rows) for (const s of shapes) {
        const row = find(r.id, s)
        const phase = row && (col.phase === 'throughput' ? row.throughput : row.paced)
        const v = phase?.ok ? (phase as unknown as Record<string, number>)[col.key] : NaN
        if (Number.isFinite(v)) values.push(v)
      }
      const max = Math.max(...values, 0) || 1
      const title =
        col.phase === 'paced' ? `${col.title} at ${fmtRate(m.rate)}/s — ${SCENARIO_TITLE[scenario]}` : `${col.title} — ${SCENARIO_TITLE[scenario]}`
      parts.push(`<rect x="${x0 + 2}" y="${y0 + 2}" width="${panelW - 8}" height="${rowHeights[ci] - 6}" fill="#fafafa" stroke="#e3e3e3"/>`)
      parts.push(
        `<text x="${x0 + 8}" y="${y0 + 16}" font-weight="bold">${esc(title)} <tspan fill="#888" font-weight="normal">(${col.better} is better)</tspan></text>`,
      )
      const natives = rows.filter((r) => r.kind === 'native')
      const ratioText = natives
        .map((n) =>
          shapes
            .map((s) => {
              const row = find(n.id, s)
              const pool = results.rows.filter((r) => r.shape === s && r.scenario === scenario && r.kind === 'js')
              return `${s[0].toUpperCase()} ${row ? fmtRatio(ratio(row, pool, col)) : 'n/a'}`
            })
            .join(' · '),
        )
        .join('; ')
      if (ratioText) parts.push(`<text x="${x0 + 8}" y="${y0 + 31}" fill="#b03a2e">fluent-native vs best JS: ${esc(ratioText)}</text>`)
      rows.forEach((r, gi) => {
        const gy = y0 + titleH + gi * groupH
        const bold = r.kind === 'native' ? ' font-weight="bold"' : ''
        const fill = r.kind === 'lean' || r.kind === 'idle' ? '#777' : '#222'
        const label = r.short
        const midY = gy + (shapes.length * (barH + barGap)) / 2 + 3
        parts.push(`<text x="${x0 + labelW}" y="${midY}" text-anchor="end" fill="${fill}"${bold}>${esc(label)}</text>`)
        shapes.forEach((s, bi) => {
          const row = find(r.id, s)
          const by = gy + bi * (barH + barGap)
          const phase = row && (col.phase === 'throughput' ? row.throughput : row.paced)
          const bx = x0 + labelW + 6
          if (!phase) return
          if (!phase.ok) {
            parts.push(`<text x="${bx}" y="${by + barH}" font-size="8" fill="#c0392b">FAILED</text>`)
            return
          }
          const v = (phase as unknown as Record<string, number>)[col.key]
          if (!Number.isFinite(v)) return
          const w = Math.max(1, (v / max) * barW)
          const short =
            col.phase === 'paced' && row?.paced && row.paced.achievedRate < SUSTAINED * row.paced.targetRate
              ? ` (${fmtRate(row.paced.achievedRate)}/s)`
              : ''
          parts.push(`<rect x="${bx}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${SHAPE_COLOR[s] ?? '#999'}"/>`)
          parts.push(`<text x="${(bx + w + 3).toFixed(1)}" y="${by + barH - 0.5}" font-size="8" fill="#333">${esc(col.fmt(v) + short)}</text>`)
        })
      })
    })
    y0 += rowHeights[ci]
  })
  parts.push('</svg>')
  return parts.join('\n')
}

/**
 * The TLS table (results/tls.md): fluent-native over TLS 1.3 against its own plain row (what TLS
 * costs) and against @fluent-org/logger over TLS 1.3, per shape, from the same run.
 */
export function tlsMarkdown(results: Results): string {
  const m = results.meta
  const cols = COLUMNS
  const rate = fmtRate(m.rate)
  const title = (c: Column): string => (c.phase === 'paced' ? `${c.title} @${rate}/s` : c.title)
  const out: string[] = []
  out.push('# TLS 1.3: what it costs fluent-native, and against @fluent-org/logger')
  out.push('')
  out.push(
    `${m.date} · Node ${m.node} · ${m.cpus} × ${m.cpuModel} · commit ${m.commit} · ` +
      `${m.events.toLocaleString('en-US')} events per throughput run · fluent-sink with ${m.sinkThreads} thread(s): ` +
      'one plain listener and one TLS listener (rustls, test certificate for `localhost`), same machine. ' +
      'Clients verify the certificate against the test CA (`servername: localhost`, `minVersion: TLSv1.3`). ' +
      'A run counts only if the sink counted every record. Sink CPU and other load are those of the throughput run. ' +
      `Paced columns: ${m.rate.toLocaleString('en-US')} events/s for ${m.pacedMs} ms; they count only where the target was sustained (≥ ${SUSTAINED * 100} %).`,
  )
  out.push('')
  for (const shape of [...new Set(results.rows.map((r) => r.shape))]) {
    const rows = results.rows.filter((r) => r.shape === shape)
    const nativeTls = rows.find((r) => r.id === 'native-tls')
    if (!nativeTls) continue
    const shown = ['native', 'native-tls', 'org-forward', 'org-tls']
      .map((id) => rows.find((r) => r.id === id))
      .filter((r): r is Row => !!r)
    out.push(`## ${shape} records`)
    out.push('')
    out.push(`| client | ${cols.map(title).join(' | ')} | Forward B/event (inside TLS) | sink CPU (cores) | other load (cores) |`)
    out.push(`|---|${cols.map(() => '---:').join('|')}|---:|---:|---:|`)
    for (const r of shown) {
      const t = r.throughput
      const f = (v: number | undefined, d: number): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(d) : '–')
      out.push(
        `| ${r.label} | ${cols.map((c) => cell(r, c)).join(' | ')} | ${f(t?.wireBytesPerEvent, 1)} | ${f(t?.sinkCores, 2)} | ${f(t?.foreignCores, 2)} |`,
      )
    }
    out.push('')
    const plain = rows.find((r) => r.id === 'native')
    const org = rows.find((r) => r.id === 'org-tls')
    const raw = (a: Row | undefined, b: Row | undefined, c: Column): string => {
      const x = a && metric(a, c)
      const y = b && metric(b, c)
      return x !== undefined && y !== undefined && y > 0 ? `${(x / y).toFixed(2)}×` : 'n/a'
    }
    const better = (a: Row, b: Row | undefined, c: Column): string => (b ? fmtRatio(ratio(a, [b], c)) : 'n/a')
    out.push(`| ratio | ${cols.map(title).join(' | ')} |`)
    out.push(`|---|${cols.map(() => '---:').join('|')}|`)
    out.push(`| fluent-native TLS ÷ fluent-native plain (the cost of TLS) | ${cols.map((c) => raw(nativeTls, plain, c)).join(' | ')} |`)
    out.push(
      `| fluent-native TLS vs @fluent-org/logger TLS (× better; > 1 means fluent-native wins) | ${cols.map((c) => better(nativeTls, org, c)).join(' | ')} |`,
    )
    out.push('')
    const notes = shown.flatMap((r) => [
      ...(r.throughput && !r.throughput.ok ? [`${r.label}: FAILED (${r.throughput.failure})`] : []),
      ...r.notes.map((n) => `${r.label}: ${n}`),
    ])
    if (notes.length) {
      out.push('Notes:')
      out.push('')
      for (const n of notes) out.push(`- ${n}`)
      out.push('')
    }
  }
  return out.join('\n')
}
