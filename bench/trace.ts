/**
 * What `traceContext` costs the leveled logger on the JS thread: the same calls with the option off,
 * on with no span active, and on inside an active span.
 *
 *   node --import @oxc-node/core/register bench/trace.ts
 *
 * Set up as an application traced with OpenTelemetry is: `@opentelemetry/api` with the
 * AsyncLocalStorage context manager registered (so "no span" still asks the context manager), and
 * the span a real one to the API (`trace.wrapSpanContext` of a sampled span context: what the SDK's
 * spans answer to `spanContext()`, without the SDK's own costs, which are the tracer's, not ours).
 * Records: the small one of bench/logger.ts (`logger.info(msg, 3 fields)`, no bound fields) and its
 * medium one (`child(15 bound fields).info(msg, 5 fields)`). Each task is a loop of calls; the span
 * tasks run their whole loop inside `context.with` (one span: its ids are encoded once per logger);
 * "spans alternating" enters one of two spans per call (each record encodes its ids anew), against
 * the same `context.with` calls without the option. A second run of the plain task shows the noise.
 * Figures: medians over ROUNDS interleaved rounds of main-thread CPU ns per call (bench/cputasks.ts),
 * "net" less building the call's fields. The records go to an in-process FluentReceiver (decoded on
 * its own thread, nothing crosses to JS) and are counted at the end. Writes results/trace.{json,md}.
 *
 * Environment: TRACE_ROUNDS (default 7), TRACE_TASK_MS (default 250).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { context, trace, TraceFlags } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'

import { FluentClient, FluentReceiver } from '../index.js'
import { median, runTasks } from './cputasks.ts'

const benchDir = dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.TRACE_ROUNDS ?? 7)
const TASK_MS = Number(process.env.TRACE_TASK_MS ?? 250)

const BOUND = {
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
  ctx: { tenant: 'acme', plan: 'pro', shard: 7 },
  tags: ['orders', 'payments', 'eu', 'canary'],
}
const MSG = 'request completed'
const SMALL_MSG = 'hello world'
const smallFields = (i: number) => ({ n: i, user: 'u123', ok: true })
const perCall = (i: number) => ({ n: i, status: 200, latencyMs: 12.75, bytes: 18234, cached: false })

async function main(): Promise<void> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const span = trace.wrapSpanContext({ traceId: '5b8aa5a2d2c872e8321cf37308d69df2', spanId: '051581bf3cb55c13', traceFlags: TraceFlags.SAMPLED })
  const inSpan = trace.setSpan(context.active(), span)
  // Two spans taking turns, call by call (a shared logger under concurrent requests): no record reuses
  // the previous record's encoded ids.
  const turns = [
    inSpan,
    trace.setSpan(context.active(), trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED })),
  ]

  const receiver = await FluentReceiver.listen({ port: 0, host: '127.0.0.1', ack: false })
  const client = new FluentClient({ host: '127.0.0.1', port: receiver.port, maxBufferBytes: 1 << 30 })
  const errors: string[] = []
  client.on('error', (e: Error & { code?: string }) => errors.push(`${e.code}: ${e.message}`))
  const plain = client.logger({ tag: 'bench.trace' })
  const traced = client.logger({ tag: 'bench.trace', traceContext: true })
  const plainChild = plain.child(BOUND)
  const tracedChild = traced.child(BOUND)
  let accepted = 0
  let refused = 0
  let seq = 0
  const ring: object[] = new Array(256)
  const count = (ok: boolean): void => {
    if (ok) accepted++
    else refused++
  }

  const tasks: Record<string, (calls: number) => void> = {
    'small: build the fields': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = smallFields(seq++)
    },
    'small: info, no option': (calls) => {
      for (let i = 0; i < calls; i++) count(plain.info(SMALL_MSG, smallFields(seq++)))
    },
    'small: info, traceContext, no span': (calls) => {
      for (let i = 0; i < calls; i++) count(traced.info(SMALL_MSG, smallFields(seq++)))
    },
    'small: info, traceContext, span active': (calls) => {
      context.with(inSpan, () => {
        for (let i = 0; i < calls; i++) count(traced.info(SMALL_MSG, smallFields(seq++)))
      })
    },
    // The floor of the option without a span: asking the context manager for the active context
    // (what any trace-aware logger must do per record), and then the API for its span.
    'floor: context.active()': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = context.active()
    },
    'floor: trace.getSpan(context.active())': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = trace.getSpan(context.active()) ?? ring
    },
    'small: info, no option (again: the noise)': (calls) => {
      for (let i = 0; i < calls; i++) count(plain.info(SMALL_MSG, smallFields(seq++)))
    },
    'small: context.with(span) { info }, no option': (calls) => {
      for (let i = 0; i < calls; i++) context.with(turns[i & 1], () => count(plain.info(SMALL_MSG, smallFields(seq++))))
    },
    'small: context.with(span) { info }, traceContext, spans alternating': (calls) => {
      for (let i = 0; i < calls; i++) context.with(turns[i & 1], () => count(traced.info(SMALL_MSG, smallFields(seq++))))
    },
    'medium: build the fields': (calls) => {
      for (let i = 0; i < calls; i++) ring[i & 255] = perCall(seq++)
    },
    'medium: child.info, no option': (calls) => {
      for (let i = 0; i < calls; i++) count(plainChild.info(MSG, perCall(seq++)))
    },
    'medium: child.info, traceContext, no span': (calls) => {
      for (let i = 0; i < calls; i++) count(tracedChild.info(MSG, perCall(seq++)))
    },
    'medium: child.info, traceContext, span active': (calls) => {
      context.with(inSpan, () => {
        for (let i = 0; i < calls; i++) count(tracedChild.info(MSG, perCall(seq++)))
      })
    },
    'medium: child.info, no option (again: the noise)': (calls) => {
      for (let i = 0; i < calls; i++) count(plainChild.info(MSG, perCall(seq++)))
    },
  }
  const { samples, calls, otherLoad } = await runTasks(tasks, {
    rounds: ROUNDS,
    taskMs: TASK_MS,
    between: () => client.flush({ timeoutMs: 30_000 }),
    log: (line) => console.error(line),
  })
  const report = await client.close({ timeoutMs: 60_000 })
  const got = await receiver.waitFor(accepted, 60_000).catch(() => receiver.stats())
  await receiver.close()
  const ok = got.events === accepted && refused === 0 && errors.length === 0

  const m = (name: string): number => median(samples.get(name)!)
  const net = (name: string): number => m(name) - m(`${name.split(':')[0]}: build the fields`)
  const ratios: Record<string, number> = {}
  for (const size of ['small: info', 'medium: child.info']) {
    const base = net(`${size}, no option`)
    ratios[`${size}: no span / no option`] = net(`${size}, traceContext, no span`) / base
    ratios[`${size}: span active / no option`] = net(`${size}, traceContext, span active`) / base
    ratios[`${size}: no option again / no option (noise)`] = net(`${size}, no option (again: the noise)`) / base
  }
  ratios['small: no span, less the floor context.active() / no option'] =
    (net('small: info, traceContext, no span') - m('floor: context.active()')) / net('small: info, no option')
  ratios['small: spans alternating / the same without the option (both in context.with)'] =
    net('small: context.with(span) { info }, traceContext, spans alternating') / net('small: context.with(span) { info }, no option')
  const rows = Object.keys(tasks).map((name) => {
    const isBuild = name.endsWith('build the fields') || name.startsWith('floor:')
    return `| ${name} | ${m(name).toFixed(1)} | ${isBuild ? '' : net(name).toFixed(1)} | ${samples
      .get(name)!
      .map((x) => x.toFixed(0))
      .join(', ')} | ${calls.get(name)!.toLocaleString('en-US')} |`
  })
  const md = [
    '# traceContext: main-thread CPU per call',
    '',
    `${new Date().toISOString()} · Node ${process.versions.node} · ${cpus().length} × ${cpus()[0]?.model.trim()} · ` +
      `${ROUNDS} interleaved rounds of about ${TASK_MS} ms per task; medians of main-thread CPU ns per call; "net" less building ` +
      `the call's fields. Command: \`node --import @oxc-node/core/register bench/trace.ts\`. Other processes' load before each round ` +
      `(cores): ${otherLoad.map((x) => x.toFixed(2)).join(', ')}.`,
    '',
    '| task | CPU ns/call | net ns/call | rounds (ns/call) | calls per round |',
    '|---|---:|---:|---|---:|',
    ...rows,
    '',
    ...Object.entries(ratios).map(([k, v]) => `- ${k}: **${v.toFixed(2)}**`),
    '',
    `Delivery check: ${accepted.toLocaleString('en-US')} records accepted, ${refused} refused, the receiver counted ` +
      `${got.events.toLocaleString('en-US')}; close() reported ${JSON.stringify(report)}; client errors: ${errors.length ? errors.join('; ') : 'none'}. ` +
      (ok ? 'Every accepted record arrived.' : '**NOT every record arrived: the figures do not count.**'),
    '',
  ].join('\n')
  mkdirSync(join(benchDir, 'results'), { recursive: true })
  const out = { otherLoad, calls: Object.fromEntries(calls), samples: Object.fromEntries(samples), ratios, accepted, refused, events: got.events, report, errors, ok }
  writeFileSync(join(benchDir, 'results', 'trace.json'), `${JSON.stringify(out, null, 2)}\n`)
  writeFileSync(join(benchDir, 'results', 'trace.md'), md)
  process.stdout.write(`\n${md}`)
  if (!ok) process.exitCode = 1
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
