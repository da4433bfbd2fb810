/**
 * The leveled logger's cost on the JS thread, against JSON.stringify of the same record and pino.
 *
 *   npm run build:sink && node --import @oxc-node/core/register bench/logger.ts
 *
 * The record is the medium one of src/cli/shapes.ts as a service logs it through a logger: 15 fields
 * bound to a child (service, host, request id, a nested object, an array...) and 5 passed with each
 * call (`n`, `status`, `latencyMs`, `bytes`, `cached`, a fresh object per call), plus level and
 * message: 22 keys. Tasks, each a loop of calls:
 *   - JSON.stringify of the whole record, built fresh per call (what the record costs as JSON);
 *   - fluent-native `child.info(msg, fields)`, to a live fluent-sink that counts every record;
 *   - fluent-native `client.emit(tag, record)` of the whole record built fresh (the generic path);
 *   - pino `child.info(fields, msg)` writing to /dev/null (`pino.destination('/dev/null')`, as pino's
 *     own benchmarks do: synchronous writes, so the write(2) per line is on the main thread);
 *   - a disabled level (`child.debug` at level info) for fluent-native and pino, and an empty
 *     function called with the same arguments;
 *   - building the per-call fields alone and the whole record alone, to subtract;
 *   - the same for the small record through a logger with no bound fields (`small:` rows; no target).
 * Every task runs once per round (ROUNDS rounds, interleaved); each figure is the median over the
 * rounds of main-thread CPU ns per call (`/proc/self/task/<pid>/schedstat`, wall time where it is
 * missing). "Net" subtracts what building that call's objects costs. Writes results/logger.{json,md}.
 *
 * Environment: LOGGER_ROUNDS (default 7), LOGGER_TASK_MS (default 250: each task's loop is sized in the
 * warm-up round to run about that long, since schedstat advances in scheduler ticks).
 */
import { writeFileSync, mkdirSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import pino from 'pino'

import { FluentClient } from '../index.js'
import { median, runTasks } from './cputasks.ts'
import { Sink } from './sink.ts'
import { BOUND, MSG, perCall } from './logger-record.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const root = join(benchDir, '..')
const ROUNDS = Number(process.env.LOGGER_ROUNDS ?? 7)
/** Each task's loop is sized to run about this long: schedstat advances in scheduler ticks (ms). */
const TASK_MS = Number(process.env.LOGGER_TASK_MS ?? 250)

/** The small record of src/cli/shapes.ts through a logger with no bound fields. */
const SMALL_MSG = 'hello world'
const smallFields = (i: number) => ({ n: i, user: 'u123', ok: true })
const smallWhole = (i: number) => ({ level: 'info', msg: SMALL_MSG, n: i, user: 'u123', ok: true })
/** The whole record, built fresh as an application without a logger would. */
const whole = (i: number) => ({
  level: 'info',
  msg: MSG,
  service: 'checkout-api',
  version: '1.4.2',
  env: 'production',
  host: 'ip-10-0-3-17',
  region: 'eu-west-1',
  pid: 4242,
  user: 'u123',
  ok: true,
  method: 'POST',
  path: '/api/v1/orders',
  requestId: 'req-7f3c9a1e-2b4d',
  ip: '203.0.113.42',
  ua: 'Mozilla/5.0 (X11; Linux x86_64)',
  ctx: { tenant: 'acme', plan: 'pro', shard: 7, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
  tags: ['orders', 'payments', 'eu', 'canary'],
  n: i,
  status: 200,
  latencyMs: 12.75,
  bytes: 18234,
  cached: false,
})

// The empty function is kept out of reach of constant folding by being chosen at run time.
const empties = [(_m: unknown, _f: unknown): boolean => false, (_m: unknown, _f: unknown): boolean => true]
const empty = empties[Number(process.argv.length > 1000)]

async function main(): Promise<void> {
  const sink = await Sink.start(root, 1)
  // A buffer large enough for a whole task's records, so that no task meets a full buffer (a refused
  // record costs less than a sent one and would flatter the figure); the writer drains meanwhile.
  const client = new FluentClient({ host: '127.0.0.1', port: sink.port, maxBufferBytes: 1 << 30 })
  const errors: string[] = []
  client.on('error', (e: Error & { code?: string }) => errors.push(`${e.code}: ${e.message}`))
  const rootLogger = client.logger({ tag: 'bench.logger', level: 'info' })
  const child = rootLogger.child(BOUND)
  // As pino's own benchmarks set it up: pino.destination('/dev/null'), synchronous writes. (Measured
  // here: buffered async writes, minLength 4096, cost pino more per call in a tight loop, 3.1 us vs
  // 2.1 us for the small record; a no-op Writable stream 0.85 us.)
  const dest = pino.destination({ dest: '/dev/null', sync: true })
  const pinoRoot = pino({ level: 'info', base: null }, dest)
  const pinoChild = pinoRoot.child(BOUND)
  let accepted = 0
  let refused = 0
  let keep = 0
  let seq = 0
  const ring: object[] = new Array(256)
  const FIXED = perCall(0)

  const tasks: Record<string, (calls: number) => void> = {
    'build the per-call fields': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = perCall(seq++)
    },
    'build the whole record': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = whole(seq++)
    },
    'JSON.stringify(whole record)': (calls) => {
      for (let i = 0; i < calls; i++) keep += JSON.stringify(whole(seq++)).length
    },
    'fluent-native child.info(msg, fields)': (calls) => {
      for (let i = 0; i < calls; i++) {
        if (child.info(MSG, perCall(seq++))) accepted++
        else refused++
      }
    },
    'fluent-native emit(tag, whole record)': (calls) => {
      for (let i = 0; i < calls; i++) {
        if (client.emit('bench.logger', whole(seq++))) accepted++
        else refused++
      }
    },
    'pino child.info(fields, msg) to /dev/null': (calls) => {
      for (let i = 0; i < calls; i++) pinoChild.info(perCall(seq++), MSG)
    },
    'small: build the fields': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = smallFields(seq++)
    },
    'small: build the whole record': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = smallWhole(seq++)
    },
    'small: JSON.stringify(whole record)': (calls) => {
      for (let i = 0; i < calls; i++) keep += JSON.stringify(smallWhole(seq++)).length
    },
    'small: fluent-native logger.info(msg, fields)': (calls) => {
      for (let i = 0; i < calls; i++) {
        if (rootLogger.info(SMALL_MSG, smallFields(seq++))) accepted++
        else refused++
      }
    },
    'small: pino logger.info(fields, msg) to /dev/null': (calls) => {
      for (let i = 0; i < calls; i++) pinoRoot.info(smallFields(seq++), SMALL_MSG)
    },
    'fluent-native child.debug (disabled)': (calls) => {
      for (let i = 0; i < calls; i++) if (child.debug(MSG, FIXED)) keep++
    },
    'pino child.debug (disabled)': (calls) => {
      for (let i = 0; i < calls; i++) pinoChild.debug(FIXED, MSG)
    },
    'empty function, same arguments': (calls) => {
      for (let i = 0; i < calls; i++) if (empty(MSG, FIXED)) keep++
    },
  }
  // Between tasks the stage hands over and the writer catches up, so no task meets a full buffer.
  const { samples, calls, otherLoad } = await runTasks(tasks, {
    rounds: ROUNDS,
    taskMs: TASK_MS,
    between: async () => {
      await client.flush({ timeoutMs: 30_000 })
      await new Promise<void>((resolve) => dest.flush(() => resolve()))
    },
    log: (line) => console.error(line),
  })
  const report = await client.close({ timeoutMs: 60_000 })
  const delivered = await sink.wait(accepted, 30_000)
  await sink.stop()
  await new Promise<void>((resolve) => dest.flush(() => resolve()))
  const ok = delivered.events === accepted && refused === 0 && errors.length === 0
  if (ring.length === 0) keep++

  const m = (name: string): number => median(samples.get(name)!)
  const buildCall = m('build the per-call fields')
  const buildWhole = m('build the whole record')
  const net: Record<string, number> = {
    'JSON.stringify(whole record)': m('JSON.stringify(whole record)') - buildWhole,
    'fluent-native child.info(msg, fields)': m('fluent-native child.info(msg, fields)') - buildCall,
    'fluent-native emit(tag, whole record)': m('fluent-native emit(tag, whole record)') - buildWhole,
    'pino child.info(fields, msg) to /dev/null': m('pino child.info(fields, msg) to /dev/null') - buildCall,
    'small: JSON.stringify(whole record)': m('small: JSON.stringify(whole record)') - m('small: build the whole record'),
    'small: fluent-native logger.info(msg, fields)': m('small: fluent-native logger.info(msg, fields)') - m('small: build the fields'),
    'small: pino logger.info(fields, msg) to /dev/null': m('small: pino logger.info(fields, msg) to /dev/null') - m('small: build the fields'),
  }
  const json = net['JSON.stringify(whole record)']
  const info = net['fluent-native child.info(msg, fields)']
  const pinoInfo = net['pino child.info(fields, msg) to /dev/null']
  const disabled = m('fluent-native child.debug (disabled)')
  const emptyCall = m('empty function, same arguments')
  const targets = {
    infoOverJson: info / json,
    infoOverPino: info / pinoInfo,
    disabledOverEmpty: disabled / emptyCall,
    emitOverJson: net['fluent-native emit(tag, whole record)'] / json,
    smallInfoOverJson: net['small: fluent-native logger.info(msg, fields)'] / net['small: JSON.stringify(whole record)'],
    smallInfoOverPino: net['small: fluent-native logger.info(msg, fields)'] / net['small: pino logger.info(fields, msg) to /dev/null'],
  }
  const rows = Object.keys(tasks).map((name) => {
    const r = samples.get(name)!
    const n = net[name]
    const j = name.startsWith('small: ') ? net['small: JSON.stringify(whole record)'] : json
    return `| ${name} | ${m(name).toFixed(2)} | ${n === undefined ? '' : n.toFixed(0)} | ${n === undefined ? '' : `${(n / j).toFixed(2)}×`} | ${r.map((x) => x.toFixed(x < 10 ? 2 : 0)).join(', ')} | ${calls.get(name)!.toLocaleString('en-US')} |`
  })
  const md = [
    '# Logger: main-thread CPU per call',
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ` +
      `${ROUNDS} rounds (after a warm-up that sizes each task to run about ${TASK_MS} ms) per task, interleaved; medians over the rounds ` +
      'of main-thread CPU ns per call. Record: 15 fields bound to a child + 5 per call + level and message (22 keys). ' +
      '"Net" subtracts building the objects that call builds (the per-call fields, or the whole record). Command: ' +
      `\`node --import @oxc-node/core/register bench/logger.ts\`. Other processes' load before each round (cores): ${otherLoad.map((x) => x.toFixed(2)).join(', ')}.`,
    '',
    '| task | CPU ns/call | net ns/call | net vs JSON.stringify | rounds (ns/call) | calls per round |',
    '|---|---:|---:|---:|---|---:|',
    ...rows,
    '',
    `Targets (issue 11): child.info / JSON.stringify = **${targets.infoOverJson.toFixed(2)}** (target ≤ 0.25); ` +
      `child.info / pino child.info = **${targets.infoOverPino.toFixed(2)}** (target ≤ 1); ` +
      `disabled level / empty function = **${targets.disabledOverEmpty.toFixed(2)}** (target ≤ 2); ` +
      `generic emit of the whole record / JSON.stringify = ${targets.emitOverJson.toFixed(2)}. ` +
      `Small record (no bound fields; not a target): logger.info / JSON.stringify = ${targets.smallInfoOverJson.toFixed(2)}, / pino = ${targets.smallInfoOverPino.toFixed(2)}.`,
    '',
    `Delivery check: ${accepted.toLocaleString('en-US')} records accepted, ${refused} refused, the sink counted ` +
      `${delivered.events.toLocaleString('en-US')}; close() reported ${JSON.stringify(report)}; client errors: ${errors.length ? errors.join('; ') : 'none'}. ` +
      (ok ? 'Every accepted record arrived.' : '**NOT every record arrived: the fluent-native rows do not count.**'),
    '',
  ].join('\n')
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  const out = { otherLoad, calls: Object.fromEntries(calls), samples: Object.fromEntries(samples), net, targets, accepted, refused, delivered, report, errors, ok, keep: keep > 0 }
  writeFileSync(join(benchDir, 'results', 'logger.json'), `${JSON.stringify(out, null, 2)}\n`)
  writeFileSync(join(benchDir, 'results', 'logger.md'), md)
  process.stdout.write(`\n${md}`)
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
