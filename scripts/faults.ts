/**
 * The fault-schedule test's long mode: `npm run faults -- --minutes 60` runs seeded schedules
 * (see __test__/faults/) for that long, prints each failing seed with its problems, and ends with
 * the figures (schedules run, faults drawn, the longest schedule). `--seed N` replays one seed
 * (as does FAULT_SEED=N with the spec); `--from N` starts the seeds there.
 */
import { runSeed } from '../__test__/faults/run.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const seedArg = arg('seed') ?? process.env.FAULT_SEED
const minutes = Number(arg('minutes') ?? process.env.FAULT_MINUTES ?? 1)
let seed = seedArg !== undefined ? Number(seedArg) : Number(arg('from') ?? Date.now() % 1_000_000_000)
const until = Date.now() + minutes * 60_000
let runs = 0
let failed = 0
let longest = { ms: 0, seed: 0 }
const faults: Record<string, number> = {}
do {
  const o = await runSeed(seed)
  runs++
  for (const f of o.faults) faults[f] = (faults[f] ?? 0) + 1
  if (o.ms > longest.ms) longest = { ms: o.ms, seed }
  if (o.problems.length > 0) {
    failed++
    console.log(`FAILED seed ${seed} (replay: FAULT_SEED=${seed} npm run faults):\n  ${o.problems.join('\n  ')}`)
  } else if (seedArg !== undefined) {
    console.log(`seed ${seed} passed: ${o.records} records, ${Math.round(o.ms)} ms, faults ${o.faults.join(' ') || 'none'}; errors ${JSON.stringify(o.errors)}`)
  }
  if (runs % 25 === 0) console.log(`... ${runs} schedule(s), ${failed} failed, up to seed ${seed}`)
  seed++
} while (seedArg === undefined && Date.now() < until)
const drawn = Object.values(faults).reduce((a, b) => a + b, 0)
console.log(
  `${runs} schedule(s), ${failed} failed; ${drawn} faults drawn (${Object.entries(faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}); longest ${Math.round(longest.ms)} ms (seed ${longest.seed})`,
)
process.exitCode = failed > 0 ? 1 : 0
