/**
 * A CPU profile of one bench/service.ts contender where it runs: the service pinned to CPU 0 (a
 * 1-CPU pod), this process (the load generator) and the sink on CPU 1, a fixed rate of alternating
 * plain and `/log` phases, and `perf record -g` of the service for 10 s (`--perf-basic-prof` names
 * the JIT's frames). Prints the phases' CPU per request; read the profile with `perf report -i <out>`.
 *
 *   npm run build:sink && node --import @oxc-node/core/register bench/service-profile.ts native-logger /tmp/logger.data
 *
 * `FLUENT_NATIVE_DIR` profiles another built tree (an addon built with symbols:
 * `CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`, copied in as
 * fluent-native.linux-x64-gnu.node beside that tree's index.js). Needs `perf` and `taskset`.
 */
import { execFileSync, spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import { Load, sleep } from './loadgen.ts'
import { Sink } from './sink.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const [id, out] = process.argv.slice(2)
if (!id || !out) throw new Error('usage: bench/service-profile.ts <contender> <perf output file>')
const RATE = Number(process.env.SERVICE_RATE ?? 8000)

const sink = await Sink.start(root)
for (const pid of [sink.pid, process.pid]) execFileSync('taskset', ['-a', '-p', '-c', '1', String(pid)], { stdio: 'ignore' })
const service = spawn('taskset', ['-c', '0', process.execPath, '--perf-basic-prof', join(root, 'bench', 'service-child.mjs'), id, String(sink.port)], {
  stdio: ['pipe', 'pipe', 'inherit'],
})
const first = await new Promise<string>((resolve) => createInterface({ input: service.stdout! }).once('line', resolve))
const port = Number(/^READY (\d+)$/.exec(first)?.[1] ?? NaN)
if (!Number.isFinite(port)) throw new Error(`service: unexpected first line ${first}`)
const load = new Load(port, service.pid!, [sink.pid])
await load.open(32)
// 2 s of warm-up, then phases for 14 s; perf records 10 s from the third second.
const phases = load.fixed(RATE, 2000, 14_000)
await sleep(3000)
const perf = spawn('perf', ['record', '-F', '4999', '-g', '-o', out, '-p', String(service.pid), '--', 'sleep', '10'], { stdio: 'inherit' })
await new Promise((resolve) => perf.on('exit', resolve))
const { plain, logged } = await phases
const perReq = (w: { processUs: number; mainUs: number; requests: number }) =>
  `${(w.processUs / w.requests).toFixed(2)} µs/req (main thread ${(w.mainUs / w.requests).toFixed(2)})`
console.log(`plain: ${perReq(plain)}; logged: ${perReq(logged)} (both under perf)`)
load.close()
service.stdin!.write('quit\n')
await sink.stop()
await sleep(300)
process.exit(0)
