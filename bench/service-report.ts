/**
 * bench/service.ts's contenders, and its results as markdown (results/service.md) and an SVG chart
 * (docs/service.svg): medians over rounds of what logging adds in each contender's service (its
 * logged requests against its own plain ones), the issue's targets, and the floors.
 */
import type { Pair, Window } from './loadgen.ts'

export type Placement = 'pinned' | 'unpinned'

/** `short`: the chart's label. */
export const CONTENDERS: ReadonlyArray<{ id: string; label: string; short?: string }> = [
  { id: 'none', label: 'nothing logged on either kind (the method\'s noise)' },
  { id: 'build', label: 'fields built per request, nothing logged (the part every logger pays)', short: 'fields built, nothing logged' },
  { id: 'native-logger', label: 'fluent-native `logger().child(bound).info(msg, fields)`', short: 'fluent-native logger' },
  { id: 'native-logger-trace', label: 'fluent-native logger with `traceContext`, no span active (OpenTelemetry context manager registered)' },
  { id: 'native-emit', label: 'fluent-native `emit(tag, record)`', short: 'fluent-native emit' },
  { id: 'pino-destination', label: 'pino → fluent-native/pino `destination()`', short: 'pino → fluent-native destination()' },
  { id: 'pino-transport', label: "pino.transport('fluent-native/pino')", short: 'pino.transport(fluent-native/pino)' },
  { id: 'pino-devnull', label: 'pino → /dev/null (sync)', short: 'pino → /dev/null' },
  { id: 'pino-noop', label: 'pino → a stream whose write() does nothing (pino alone)', short: 'pino → no-op stream (pino alone)' },
  { id: 'org-forward', label: '@fluent-org/logger, Forward', short: '@fluent-org/logger Forward' },
  { id: 'floor-encode', label: 'floor: the record encoded (emit\'s encoder, into a stage buffer), nothing handed over' },
  { id: 'floor-stringify', label: 'floor: `JSON.stringify` of the same record (V8\'s native serializer), the string dropped' },
  { id: 'floor-napi', label: 'floor: one Node-API call of the handover\'s shape (no client behind it)' },
  { id: 'floor-then', label: 'floor: one promise reaction queued (what queued a handover per request before the timer)' },
  { id: 'native-logger@base', label: 'fluent-native logger, baseline build' },
  { id: 'native-emit@base', label: 'fluent-native emit, baseline build' },
  { id: 'ab-logger', label: 'A/B in one service: logger, this build minus the baseline (plain = baseline)' },
  { id: 'ab-emit', label: 'A/B in one service: emit, this build minus the baseline (plain = baseline)' },
  { id: 'ab-pino-destination', label: 'A/B in one service: pino `destination()`, this build minus the baseline (plain = baseline)' },
]

export interface Run {
  id: string
  placement: Placement
  round: number
  fixed: Pair | undefined
  saturated: Pair | undefined
  logged: number
  delivered: number
  failure: string | undefined
  note?: string
}

export interface FloorRun {
  placement: Placement
  round: number
  /** Median ns per turn, by `<op> (warm|cold)`. */
  ns: Record<string, number>
}

export interface Meta {
  started: string
  finished: string
  node: string
  cpu: string
  commit: string
  loadBefore: number[]
  loadAfter: number[]
  rounds: number
  rate: number
  seconds: number
  satSeconds: number
  conns: number
  baseline: string | undefined
  command: string
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const perReq = (w: Window | undefined, key: 'processUs' | 'mainUs') => (w && w.requests > 0 ? w[key] / w.requests : NaN)
const rate = (w: Window | undefined) => (w && w.seconds > 0 ? w.requests / w.seconds : NaN)

/** One run's figures: its logged requests against its own plain ones (loadgen.ts, paired phases). */
interface Figures {
  plainProc: number
  proc: number
  extraProc: number
  extraMain: number
  plainP99: number
  p99: number
  extraP99: number
  achieved: number
  sat: number
  satRatio: number
  satP99: number
  other: number
}

function figures(run: Run): Figures {
  const f = run.fixed
  const s = run.saturated
  return {
    plainProc: perReq(f?.plain, 'processUs'),
    proc: perReq(f?.logged, 'processUs'),
    extraProc: perReq(f?.logged, 'processUs') - perReq(f?.plain, 'processUs'),
    extraMain: perReq(f?.logged, 'mainUs') - perReq(f?.plain, 'mainUs'),
    plainP99: f?.plain.p99Us ?? NaN,
    p99: f?.logged.p99Us ?? NaN,
    extraP99: (f?.logged.p99Us ?? NaN) - (f?.plain.p99Us ?? NaN),
    achieved: rate(f?.logged),
    sat: rate(s?.logged),
    satRatio: rate(s?.logged) / rate(s?.plain),
    satP99: s?.logged.p99Us ?? NaN,
    other: f?.logged.otherCores ?? NaN,
  }
}

type Table = Map<string, { rounds: Figures[]; failed: Run[]; runs: Run[] }>

function collect(runs: Run[], placement: Placement): Table {
  const table: Table = new Map()
  for (const run of runs.filter((r) => r.placement === placement)) {
    const entry = table.get(run.id) ?? { rounds: [], failed: [], runs: [] }
    table.set(run.id, entry)
    entry.runs.push(run)
    if (run.failure) entry.failed.push(run)
    else entry.rounds.push(figures(run))
  }
  return table
}

const med = (t: Table, id: string, k: keyof Figures) => median(t.get(id)?.rounds.map((f) => f[k]) ?? [])
/** Median over rounds of the ratio of two contenders' extra process CPU taken in the same round. */
function medRatio(runs: Run[], placement: Placement, a: string, b: string): number {
  const xs: number[] = []
  const mine = runs.filter((r) => r.placement === placement && !r.failure)
  for (const ra of mine.filter((r) => r.id === a)) {
    const rb = mine.find((r) => r.id === b && r.round === ra.round)
    if (rb) xs.push(figures(ra).extraProc / figures(rb).extraProc)
  }
  return median(xs)
}

const us = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a')
const signed = (x: number, digits = 2) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(digits)}` : 'n/a')
const k = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)}k` : 'n/a')

function label(id: string): string {
  return CONTENDERS.find((c) => c.id === id)?.label ?? id
}

function placementTable(runs: Run[], placement: Placement, meta: Meta): string[] {
  const t = collect(runs, placement)
  const out = [
    `### ${placement === 'pinned' ? 'Pinned: the service and all its threads on CPU 0, load generator and receiver on CPU 1' : 'Unpinned'}`,
    '',
    `Fixed rate ${meta.rate.toLocaleString('en-US')} requests/s (${meta.seconds} s of phases), then saturation (${meta.conns} connections, ${meta.satSeconds} s). Each service alternates phases of plain and logged requests; "extra" is logged minus plain in the same process. µs; medians over rounds.`,
    '',
    '| logging each request with | plain: process CPU µs/req | logged | **extra process CPU µs/req** | extra main-thread CPU µs/req | p99 plain / logged µs | extra p99 µs | achieved req/s | saturation req/s (logged) | vs plain | saturation p99 µs | other load, cores | rounds ok |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const c of CONTENDERS) {
    const e = t.get(c.id)
    if (!e) continue
    out.push(
      `| ${c.label} | ${us(med(t, c.id, 'plainProc'))} | ${us(med(t, c.id, 'proc'))} | **${signed(med(t, c.id, 'extraProc'))}** | ${signed(med(t, c.id, 'extraMain'))} | ${us(med(t, c.id, 'plainP99'), 0)} / ${us(med(t, c.id, 'p99'), 0)} | ${signed(med(t, c.id, 'extraP99'), 0)} | ${k(med(t, c.id, 'achieved'))} | ${k(med(t, c.id, 'sat'))} | ${us(med(t, c.id, 'satRatio'))}× | ${us(med(t, c.id, 'satP99'), 0)} | ${us(med(t, c.id, 'other'))} | ${e.rounds.length}/${e.runs.length} |`,
    )
  }
  out.push('')
  return out
}

function targets(runs: Run[], meta: Meta, floors: string): string[] {
  const placement: Placement = runs.some((r) => r.placement === 'pinned') ? 'pinned' : 'unpinned'
  const t = collect(runs, placement)
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**')
  const check = (x: number, f: (x: number) => boolean) => (Number.isFinite(x) ? f(x) : undefined)
  const logger = med(t, 'native-logger', 'extraProc')
  const emit = med(t, 'native-emit', 'extraProc')
  const rDev = medRatio(runs, placement, 'native-logger', 'pino-devnull')
  const rOrg = medRatio(runs, placement, 'native-logger', 'org-forward')
  const rDest = medRatio(runs, placement, 'pino-destination', 'pino-devnull')
  const p99 = med(t, 'native-logger', 'extraP99')
  const p99e = med(t, 'native-emit', 'extraP99')
  const noiseP99 = med(t, 'none', 'extraP99')
  const w = writeOut(t)
  const floor = w.least
  const rFloorDev = floor / med(t, 'pino-devnull', 'extraProc')
  const rFloorOrg = floor / med(t, 'org-forward', 'extraProc')
  const rNoop = medRatio(runs, placement, 'pino-noop', 'pino-devnull')
  const reach = (x: number, limit: number) => (!Number.isFinite(x) ? 'n/a' : x > limit ? 'above the target: out of reach in this run' : 'within the target')
  return [
    `## Targets (issue 28, item 2: ${placement}, ${meta.rate.toLocaleString('en-US')} requests/s)`,
    '',
    '| target | measured | verdict | the floor in the same run | the floor against the target |',
    '|---|---:|---|---:|---|',
    `| fluent-native logger adds ≤ 2 µs process CPU per request | ${signed(logger)} µs | ${verdict(check(logger, (x) => x <= 2))} | ${signed(floor)} µs | ${reach(floor, 2)} |`,
    `| … ≤ 0.2× what pino to /dev/null adds | ${us(rDev)}× | ${verdict(check(rDev, (x) => x <= 0.2))} | ${us(rFloorDev)}× | ${reach(rFloorDev, 0.2)} |`,
    `| … ≤ 0.1× what @fluent-org/logger adds | ${us(rOrg)}× | ${verdict(check(rOrg, (x) => x <= 0.1))} | ${us(rFloorOrg)}× | ${reach(rFloorOrg, 0.1)} |`,
    `| \`emit\` of the same record ≤ 3 µs | ${signed(emit)} µs | ${verdict(check(emit, (x) => x <= 3))} | ${signed(floor)} µs | ${reach(floor, 3)} |`,
    `| pino \`destination()\` route ≤ 0.5× pino to /dev/null | ${us(rDest)}× | ${verdict(check(rDest, (x) => x <= 0.5))} | ${us(rNoop)}× (pino alone) | ${reach(rNoop, 0.5)} |`,
    `| p99 latency added by logging < 50 µs (logger / emit) | ${signed(p99, 0)} / ${signed(p99e, 0)} µs | ${
      // The noise row (nothing logged on either kind) says what a p99 difference this method resolves.
      Math.abs(noiseP99) >= 50 ? `not resolved: the noise row reads ${signed(noiseP99, 0)} µs` : verdict(check(Math.max(p99, p99e), (x) => x < 50))
    } | | |`,
    '',
    'Ratios are medians over rounds of the per-round ratio of the two extra CPU figures. The floor: the least that writing the record out cost in this service, by our encoder or by `JSON.stringify` (the `floor-*` rows: extra process CPU per request, medians), which every logger pays per request; for the `destination()` route, pino alone (a no-op stream) against pino to /dev/null, since the route starts from pino\'s own line.',
    '',
    ...inSituFloors(t, w, rNoop),
    ...traceCost(t),
    'The floors out of the service (one record per event-loop turn, same run):',
    '',
    floors,
  ]
}

/** What writing the record out cost inside the service (extra process CPU per request, medians). */
interface WriteOut {
  /** Our encoder (`floor-encode`). */
  encode: number
  /** V8's `JSON.stringify` (`floor-stringify`). */
  stringify: number
  /**
   * The floor: the cheaper of the two measured, which any logger pays per request before it hands
   * anything over; NaN if neither was measured.
   */
  least: number
}

function writeOut(t: Table): WriteOut {
  const encode = med(t, 'floor-encode', 'extraProc')
  const stringify = med(t, 'floor-stringify', 'extraProc')
  const measured = [encode, stringify].filter(Number.isFinite)
  return { encode, stringify, least: measured.length > 0 ? Math.min(...measured) : NaN }
}

/**
 * What the pieces of a logged request cost inside the service (the `floor-*` contenders), against
 * what the whole costs. Since the stage hands over on a timer (src/stage.ts, "Bounded delay"), what a
 * request still pays on its own is the encode; the Node-API call and the queued reaction are what a
 * handover on every request would add (as before), and are shared by the records of an interval now.
 */
function inSituFloors(t: Table, w: WriteOut, rNoop: number): string[] {
  const e = w.encode
  const j = w.stringify
  const n = med(t, 'floor-napi', 'extraProc')
  const q = med(t, 'floor-then', 'extraProc')
  if (![e, j, n, q].some(Number.isFinite)) return []
  const logger = med(t, 'native-logger', 'extraProc')
  return [
    'Floors in the service itself (the `floor-*` rows below, extra process CPU per request, medians):',
    '',
    '| piece | µs |',
    '|---|---:|',
    `| the record encoded, cold (emit's encoder): what each request still pays by itself | ${signed(e)} |`,
    `| the same record through \`JSON.stringify\`, cold: writing it out with V8's native serializer | ${signed(j)} |`,
    `| one Node-API call of the handover's shape: per request if it handed over per request | ${signed(n)} |`,
    `| one promise reaction queued: the same | ${signed(q)} |`,
    `| the fluent-native logger, whole (encode, bound fields, the shared handover, writer thread) | ${signed(logger)} |`,
    `| pino alone (no-op stream) against pino to /dev/null: the least the destination() ratio can be | ${us(rNoop)}× |`,
    '',
  ]
}

/** What `traceContext` adds to a request outside any span (issue 29), against the method's noise. */
function traceCost(t: Table): string[] {
  const withTrace = med(t, 'native-logger-trace', 'extraProc')
  const logger = med(t, 'native-logger', 'extraProc')
  if (!Number.isFinite(withTrace) || !Number.isFinite(logger)) return []
  const noise = t.get('none')?.rounds.map((f) => f.extraProc) ?? []
  const spread = noise.length > 0 ? `${signed(Math.min(...noise))} to ${signed(Math.max(...noise))}` : 'n/a'
  return [
    `\`traceContext\` with no span active (an OpenTelemetry context manager registered): the logger adds ${signed(withTrace)} µs per request against ${signed(logger)} µs without the option, a difference of ${signed(withTrace - logger)} µs; the noise row (nothing logged on either kind) ranges ${spread} µs over the rounds.`,
    '',
  ]
}

/** Floors: median over rounds, net of the empty bracket of the same warmth. */
function floorTable(floors: FloorRun[]): string {
  if (floors.length === 0) return '(floors not measured: SERVICE_FLOOR_TURNS=0)'
  const placements = [...new Set(floors.map((f) => f.placement))]
  const ops = [...new Set(Object.keys(floors[0].ns).filter((n) => !n.startsWith('probe')).map((n) => n.replace(/ \((warm|cold)\)$/, '')))].filter((o) => o !== 'nothing')
  const head = `| one per event-loop turn (main thread, ns, net of an empty turn) | ${placements.flatMap((p) => [`${p}, warm`, `${p}, cold`]).join(' | ')} |`
  const rows = [head, `|---|${placements.map(() => '---:|---:|').join('')}`]
  const at = (p: Placement, name: string) => median(floors.filter((f) => f.placement === p).map((f) => f.ns[name]))
  for (const op of ops) {
    const cells = placements.flatMap((p) => (['warm', 'cold'] as const).map((w) => us(at(p, `${op} (${w})`) - at(p, `nothing (${w})`), 0)))
    rows.push(`| ${op} | ${cells.join(' | ')} |`)
  }
  const empty = placements.flatMap((p) => (['warm', 'cold'] as const).map((w) => us(at(p, `nothing (${w})`), 0)))
  rows.push(`| (the empty bracket itself, subtracted above) | ${empty.join(' | ')} |`)
  rows.push(
    '',
    'The probe: one record logged per `setImmediate` turn, CPU per turn over a long chain (everything included, the handover wherever it happens), net of the same chain of empty turns (ns):',
    '',
    `| per logged turn | ${placements.flatMap((p) => [`${p}, main thread`, `${p}, process`]).join(' | ')} |`,
    `|---|${placements.map(() => '---:|---:|').join('')}`,
  )
  for (const op of ['logger.info', 'emit']) {
    const cells = placements.flatMap((p) =>
      (['main', 'process'] as const).map((w) => us(at(p, `probe ${w}: ${op}`) - at(p, `probe ${w}: empty turn`), 0)),
    )
    rows.push(`| ${op} | ${cells.join(' | ')} |`)
  }
  return rows.join('\n')
}

function failures(runs: Run[]): string[] {
  const bad = runs.filter((r) => r.failure)
  const notes = runs.filter((r) => r.note)
  const out: string[] = []
  if (bad.length > 0) {
    out.push('## Runs left out (FAILED)', '')
    for (const r of bad) out.push(`- ${r.placement} round ${r.round + 1} ${r.id}: ${r.failure}`)
    out.push('')
  }
  if (notes.length > 0) {
    out.push('Service stderr (runs kept):', '')
    for (const r of notes) out.push(`- ${r.placement} round ${r.round + 1} ${r.id}: ${r.note}`)
    out.push('')
  }
  return out
}

function chart(runs: Run[], meta: Meta): string {
  const placement: Placement = runs.some((r) => r.placement === 'pinned') ? 'pinned' : 'unpinned'
  const t = collect(runs, placement)
  const rows = CONTENDERS.filter((c) => c.id !== 'none' && !c.id.endsWith('@base') && !c.id.startsWith('ab-') && t.has(c.id)).map((c) => ({
    label: c.short ?? c.label.replace(/`/g, ''),
    proc: med(t, c.id, 'extraProc'),
    main: med(t, c.id, 'extraMain'),
  }))
  const max = Math.max(1, ...rows.map((r) => (Number.isFinite(r.proc) ? r.proc : 0)))
  const left = 270
  const width = 900
  const scale = (width - left - 90) / max
  const rowH = 34
  const top = 56
  const height = top + rows.length * rowH + 40
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">Extra CPU per logged request (µs, less is better)</text>`,
    `<text x="12" y="42" fill="#555">node:http service at ${meta.rate.toLocaleString('en-US')} req/s, ${placement === 'pinned' ? 'pinned to 1 CPU with its threads' : 'unpinned'}; whole process (dark) and main thread (light); median of ${meta.rounds} rounds, ${meta.started.slice(0, 10)}, ${esc(meta.cpu)}</text>`,
  ]
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const w = Number.isFinite(r.proc) ? Math.max(1, r.proc * scale) : 0
    const wm = Number.isFinite(r.main) ? Math.max(0, Math.min(w, r.main * scale)) : 0
    parts.push(`<text x="${left - 8}" y="${y + 19}" text-anchor="end">${esc(r.label)}</text>`)
    parts.push(`<rect x="${left}" y="${y + 5}" width="${w.toFixed(1)}" height="20" fill="#2a6f97"/>`)
    parts.push(`<rect x="${left}" y="${y + 9}" width="${wm.toFixed(1)}" height="12" fill="#a9d6e5"/>`)
    parts.push(`<text x="${left + w + 6}" y="${y + 19}">${Number.isFinite(r.proc) ? r.proc.toFixed(1) : 'n/a'}</text>`)
  })
  parts.push(`<text x="12" y="${height - 12}" fill="#555">${esc(meta.command)} (commit ${esc(meta.commit)})</text>`, '</svg>')
  return `${parts.join('\n')}\n`
}

export function report(meta: Meta, runs: Run[], floors: FloorRun[]): { markdown: string; svg: string } {
  const placements = [...new Set(runs.map((r) => r.placement))]
  const md = [
    '# What a service pays per logged request (bench/service.ts)',
    '',
    `Run ${meta.started} to ${meta.finished}, Node ${meta.node}, ${meta.cpu}, commit ${meta.commit}; load average before ${meta.loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${meta.loadAfter.map((x) => x.toFixed(2)).join(' ')} (the machine is shared: read ratios and differences, not absolutes).`,
    '',
    `Command: \`${meta.command}\`${meta.baseline ? ` (baseline build: ${meta.baseline})` : ''}. ${meta.rounds} rounds, contenders interleaved, a fresh service per contender and round; each service alternates phases of plain and logged requests (bench/loadgen.ts), and what logging adds is logged minus plain in the same process; every figure is the median over rounds. Every contender's records were counted by the receiver (runs that lost or duplicated any are listed as FAILED and left out).`,
    '',
    ...targets(runs, meta, floorTable(floors)),
    '',
    '## Per placement',
    '',
    ...placements.flatMap((p) => placementTable(runs, p, meta)),
    ...failures(runs),
  ]
  return { markdown: `${md.join('\n')}\n`, svg: chart(runs, meta) }
}
