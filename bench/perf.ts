/**
 * Issue 11's measurements in one run, one after another (never two at once: on 2 cores they would
 * measure each other), then one summary with the targets and the README's headline chart.
 *
 *   npm run build && npm run build:sink && node --import @oxc-node/core/register bench/perf.ts
 *
 * 1. bench/crossing.ts: per-record encoding cost (fluent-native's encoder and emit, JSON.stringify,
 *    msgpackr), records built fresh per call;
 * 2. bench/logger.ts: the leveled logger against JSON.stringify, pino and an empty function;
 * 3. bench/scale.ts: 1 to 10,000 tags and 1 to 50 clients;
 * 4. bench/index.ts for fluent-native and @fluent-org/logger Forward (the best published JS client),
 *    small and medium records: delivered events/s and main-thread CPU, 5 runs each taken in turn,
 *    the median run's figures (results/quick.*);
 * 5. bench/index.ts paced at 200k events/s for the same two, the idle loop, a loop that only builds
 *    the records, and a CPU stand-in that builds them and busy-waits, per record, what fluent-native's
 *    main thread spent beyond building them in that round: event-loop delay, 7 runs each taken in
 *    turn, medians, with the measured main thread alone on CPU 0 and everything else on CPU 1
 *    (results/loop.*).
 * Writes results/perf.md and results/headline.svg from the files those runs wrote.
 * PERF_STEPS=crossing,logger,scale,bench,loop picks steps (the summary reads whatever results exist);
 * PERF_STEPS=none rewrites only the summary and chart from the last run's results.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDir = dirname(fileURLToPath(import.meta.url))
const results = join(benchDir, 'results')
// PERF_STEPS=none only rewrites the summary and chart from the results of the last run.
const stepsEnv = process.env.PERF_STEPS ?? 'crossing,logger,scale,bench,loop'
const steps = stepsEnv === 'none' ? [] : stepsEnv.split(',')
const runFile = join(results, 'perf.json')
const run: { started: string; steps: string[] } =
  steps.length > 0 ? { started: new Date().toISOString(), steps } : JSON.parse(readFileSync(runFile, 'utf8'))
const started = run.started

const commands: Record<string, { file: string; env?: Record<string, string> }> = {
  crossing: { file: 'crossing.ts' },
  logger: { file: 'logger.ts' },
  // 7 rounds: the tag and client ratios moved by 0.3 between runs of 3.
  scale: { file: 'scale.ts', env: { SCALE_REPEATS: '7' } },
  // 5 runs each, taken in turn: single throughput runs moved by half or more on this shared machine.
  bench: { file: 'index.ts', env: { BENCH_ONLY: 'native,org-forward', BENCH_SHAPES: 'small,medium', BENCH_PHASES: 'throughput', BENCH_REPEATS: '5' } },
  loop: {
    file: 'index.ts',
    env: {
      BENCH_ONLY: 'native,org-forward,idle,build,spin',
      BENCH_SPIN_NS: 'auto',
      BENCH_SHAPES: 'small,medium',
      BENCH_PHASES: 'paced',
      BENCH_REPEATS: '7',
      BENCH_PIN: '1',
      BENCH_OUT: 'loop',
    },
  },
}
for (const step of steps) {
  const c = commands[step]
  if (!c) throw new Error(`unknown step ${step}`)
  console.error(`\n== ${step}: bench/${c.file}`)
  const r = spawnSync(process.execPath, ['--import', '@oxc-node/core/register', join(benchDir, c.file)], {
    cwd: join(benchDir, '..'),
    env: { ...process.env, ...c.env },
    stdio: 'inherit',
  })
  if (r.status !== 0) console.error(`** ${step} exited ${r.status}: its figures are not to be used`)
}

if (steps.length > 0) writeFileSync(runFile, `${JSON.stringify(run)}\n`)
const json = (name: string): any => JSON.parse(readFileSync(join(results, name), 'utf8'))
const crossing = json('crossing.json')
const logger = json('logger.json')
const bench = json('quick.json')
const loop = json('loop.json')
const scaleMd = readFileSync(join(results, 'scale.md'), 'utf8')

const rowIn = (res: any, shape: string, id: string): any => res.rows.find((r: any) => r.shape === shape && r.id === id)
const row = (shape: string, id: string): any => rowIn(bench, shape, id)
const cross = (shape: string, task: string): number => crossing.lines.find((l: any) => l.shape === shape && l.task === task)?.netNsPerRecord
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const loggerNs = (task: string): number => median(logger.samples[task])

interface Bar {
  label: string
  small: number
  medium: number
  note?: string
}
const eps: Bar[] = [
  { label: 'fluent-native', small: row('small', 'native').throughput.eventsPerSec, medium: row('medium', 'native').throughput.eventsPerSec },
  { label: '@fluent-org/logger Forward', small: row('small', 'org-forward').throughput.eventsPerSec, medium: row('medium', 'org-forward').throughput.eventsPerSec },
  {
    label: 'pino → /dev/null (not delivered)',
    small: 1e9 / loggerNs('small: pino logger.info(fields, msg) to /dev/null'),
    medium: 1e9 / loggerNs('pino child.info(fields, msg) to /dev/null'),
    note: 'pino: 1 / main-thread CPU per call',
  },
]
const cpu: Bar[] = [
  { label: 'fluent-native emit', small: row('small', 'native').throughput.mainCpuUsPerEvent, medium: row('medium', 'native').throughput.mainCpuUsPerEvent },
  {
    label: 'fluent-native logger',
    small: loggerNs('small: fluent-native logger.info(msg, fields)') / 1000,
    medium: loggerNs('fluent-native child.info(msg, fields)') / 1000,
  },
  { label: '@fluent-org/logger Forward', small: row('small', 'org-forward').throughput.mainCpuUsPerEvent, medium: row('medium', 'org-forward').throughput.mainCpuUsPerEvent },
  {
    label: 'pino → /dev/null',
    small: loggerNs('small: pino logger.info(fields, msg) to /dev/null') / 1000,
    medium: loggerNs('pino child.info(fields, msg) to /dev/null') / 1000,
  },
]

const COLORS = ['#d9480f', '#f08c00', '#1971c2', '#2f9e44']
function panel(x0: number, title: string, bars: Bar[], fmt: (v: number) => string, better: string): string {
  const w = 430
  const top = 50
  const barH = 16
  const gap = 4
  const groupGap = 22
  const labelW = 0
  const max = Math.max(...bars.flatMap((b) => [b.small, b.medium]))
  let y = top
  let out = `<text x="${x0}" y="24" font-size="15" font-weight="bold">${title}</text><text x="${x0}" y="40" font-size="11" fill="#555">${better}</text>`
  for (const shape of ['small', 'medium'] as const) {
    out += `<text x="${x0}" y="${y + 11}" font-size="12" font-weight="bold">${shape} record</text>`
    y += 16
    bars.forEach((b, i) => {
      const v = b[shape]
      const len = Math.max(1, ((w - 220) * v) / max)
      out += `<rect x="${x0 + labelW}" y="${y}" width="${len.toFixed(1)}" height="${barH}" fill="${COLORS[i]}"/>`
      out += `<text x="${x0 + labelW + len + 4}" y="${y + 12}" font-size="11">${fmt(v)} · ${b.label}</text>`
      y += barH + gap
    })
    y += groupGap - gap
  }
  return out
}
const height = 50 + 2 * (16 + 4 * 20 + 18) + 40
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="${height}" font-family="sans-serif">`,
  '<rect width="900" height="100%" fill="white"/>',
  panel(10, 'Delivered events/s', eps, (v) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${Math.round(v / 1e3)} k`), 'longer is better; to a Rust Forward receiver on loopback'),
  panel(460, 'Main-thread CPU per event', cpu, (v) => `${v.toFixed(2)} µs`, 'shorter is better'),
  `<text x="10" y="${height - 12}" font-size="10" fill="#555">${started.slice(0, 16)}Z · node bench/perf.ts · pino writes to /dev/null (nothing delivered; its rate is 1 / its main-thread CPU per call) · logger rows: bench/logger.ts · full grid: bench/results/</text>`,
  '</svg>',
].join('\n')
writeFileSync(join(results, 'headline.svg'), `${svg}\n`)

const r2 = (x: number): string => x.toFixed(2)
const t = logger.targets
const ratio = (shape: string, a: string, b: string, k: 'eventsPerSec' | 'mainCpuUsPerEvent'): number => row(shape, a).throughput[k] / row(shape, b).throughput[k]
const paced = (shape: string, id: string): any => rowIn(loop, shape, id)?.paced
const p99 = (shape: string, id: string): number => paced(shape, id)?.loopP99Ms
const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`
const spread = (shape: string, id: string): string => {
  const runs: number[] = paced(shape, id)?.loopP99Runs ?? []
  return runs.length ? `${Math.min(...runs).toFixed(2)}-${Math.max(...runs).toFixed(2)}` : '–'
}
const kRuns = (shape: string, id: string): string => {
  const t = row(shape, id).throughput
  return (t.eventsPerSecRuns ?? [t.eventsPerSec]).map((v: number) => (v / 1e3).toFixed(0)).join(', ')
}
const md = [
  '# Issue 11 measurements, one run',
  '',
  `Started ${started}; \`node --import @oxc-node/core/register bench/perf.ts\` ran, one after another: ${run.steps.map((s) => `bench/${commands[s].file}`).join(', ')}. ` +
    'Per-step details: [crossing.md](crossing.md), [logger.md](logger.md), [scale.md](scale.md), [quick.md](quick.md), [loop.md](loop.md).',
  '',
  '![headline](headline.svg)',
  '',
  '| target | measured | met? |',
  '|---|---:|---|',
  ...(['small', 'medium', 'large'] as const).map((s) => {
    const v = cross(s, 'FluentClient.emit (encode + stage + handover)') / cross(s, 'JSON.stringify')
    return `| generic \`emit\`, ${s} record: ≤ 0.5× JSON.stringify (net JS-thread ns, crossing.md) | ${r2(v)}× | ${v <= 0.5 ? 'yes' : 'no'} |`
  }),
  `| \`child(15 bound).info(msg, 5 fields)\` ≤ 0.25× JSON.stringify of the whole record | ${r2(t.infoOverJson)}× | ${t.infoOverJson <= 0.25 ? 'yes' : 'no'} |`,
  `| the same ≤ pino's \`child(bound).info(fields, msg)\` to /dev/null | ${r2(t.infoOverPino)}× | ${t.infoOverPino <= 1 ? 'yes' : 'no'} |`,
  `| disabled level ≤ 2× an empty function call | ${r2(t.disabledOverEmpty)}× | ${t.disabledOverEmpty <= 2 ? 'yes' : 'no'} |`,
  ...(['medium', 'small'] as const).map((s) => {
    const want = s === 'medium' ? 3 : 2.5
    const v = ratio(s, 'native', 'org-forward', 'eventsPerSec')
    return `| delivered events/s, ${s}: ≥ ${want}× @fluent-org/logger Forward | ${r2(v)}× | ${v >= want ? 'yes' : 'no'} |`
  }),
  ...(['small', 'medium'] as const).map((s) => {
    const d = p99(s, 'native') - p99(s, 'idle')
    const b = p99(s, 'native') - p99(s, 'build')
    const org = paced(s, 'org-forward')
    const orgNote = org && org.achievedRate < 0.95 * org.targetRate ? ` (reached ${Math.round(org.achievedRate / 1e3)}k/s)` : ''
    const spin = paced(s, 'spin')
    const spinNote = spin
      ? `; the CPU stand-in (busy-waits ${median(spin.spinNsRuns ?? [spin.spinNs]).toFixed(0)} ns per record, median of its runs) ${p99(s, 'spin').toFixed(2)} ms (fluent-native ${signed(p99(s, 'native') - p99(s, 'spin'))} against it)`
      : ''
    const target = s === 'small' ? 'within 0.3 ms of idle' : '(not a target; for comparison)'
    return (
      `| event-loop delay p99 at 200k ${s} records/s ${target} | ${p99(s, 'native').toFixed(2)} ms vs idle ${p99(s, 'idle').toFixed(2)} ms (${signed(d)}); ` +
      `building the records alone ${p99(s, 'build').toFixed(2)} ms (fluent-native ${signed(b)} against it)${spinNote}; @fluent-org Forward ${p99(s, 'org-forward').toFixed(2)} ms${orgNote} | ${s === 'small' ? (d <= 0.3 ? 'yes' : 'no') : ''} |`
    )
  }),
  '',
  `Loop delay: medians of ${loop.meta.repeats ?? 1} paced runs each (loop.md); the p99 of each run ranged, small: fluent-native ${spread('small', 'native')} ms, idle ${spread('small', 'idle')}, build only ${spread('small', 'build')}, CPU stand-in ${spread('small', 'spin')}; ` +
    `medium: fluent-native ${spread('medium', 'native')}, idle ${spread('medium', 'idle')}, build only ${spread('medium', 'build')}, CPU stand-in ${spread('medium', 'spin')}.` +
    (loop.meta.pin ? ' The measured main thread ran alone on CPU 0; its other threads, the sink and the driver on CPU 1.' : ''),
  '',
  `Delivered events/s: ${bench.meta.repeats ?? 1} throughput runs per client and shape, taken in turn, the median run's figures (quick.md); each run, small: fluent-native ${kRuns('small', 'native')}, @fluent-org Forward ${kRuns('small', 'org-forward')}; medium: fluent-native ${kRuns('medium', 'native')}, @fluent-org Forward ${kRuns('medium', 'org-forward')} (k events/s).`,
  '',
  `Main-thread CPU per event, fluent-native over @fluent-org/logger Forward: small ${r2(ratio('small', 'native', 'org-forward', 'mainCpuUsPerEvent'))}×, medium ${r2(ratio('medium', 'native', 'org-forward', 'mainCpuUsPerEvent'))}×.`,
  '',
  scaleMd.replace(/^# .*\n/, '## Scale\n'),
].join('\n')
writeFileSync(join(results, 'perf.md'), md)
process.stdout.write(`\n${md}`)
