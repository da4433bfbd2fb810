/**
 * One benchmark run in its own process: one contender, one record shape, one phase.
 *
 * The driver (bench/index.ts) compiles this file and the bench modules it imports with oxc
 * (worker-compile.ts) and runs the result with plain `node`, so the child carries no TypeScript
 * loader (the loader's hooks thread costs ~30 MB of RSS and some CPU, which would be charged to every
 * contender). These modules import Node built-ins and each other only; the record shapes
 * (src/cli/shapes.js, built) and each contender's library are imported when the run starts, so a
 * child loads nothing but its own client.
 *
 * Config comes in the BENCH_CHILD environment variable and the result goes to stdout as one line
 * (worker-protocol.ts). The parts: make-client.ts and client-*.ts (the contenders), phase-*.ts (what
 * a run does and measures), clocks.ts (CPU and wall time).
 */
import { importer } from './importer.ts'
import { makeClient } from './make-client.ts'
import { paced } from './phase-paced.ts'
import { throughput } from './phase-throughput.ts'
import { send } from './worker-protocol.ts'
import type { ChildConfig } from './worker-protocol.ts'

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(t))
}

async function main(cfg: ChildConfig): Promise<void> {
  let unhandled = 0
  process.on('unhandledRejection', () => unhandled++)
  // The CLI's `bench` shapes are the benchmark's too: one copy, in the published package.
  const { SHAPES } = await importer(cfg.benchDir)('../src/cli/shapes.js')
  const make: (i: number) => object = SHAPES[cfg.shape]
  const client = await makeClient(cfg.contender, cfg.benchDir, cfg.host, cfg.port, cfg.spinNs)
  const warmup = (await client.ready?.()) ?? 0
  const result = cfg.phase === 'throughput' ? await throughput(cfg, client, make) : await paced(cfg, client, make)
  send({ type: 'result', ...result, warmup, unhandledRejections: unhandled })
  await timeout(client.close(), 10_000, 'close').catch(() => undefined)
  // Let the sockets finish closing: exiting right after fluent-logger's end() makes the sink see a
  // connection error although every record arrived.
  await new Promise((r) => setTimeout(r, 150))
  // Some clients keep timers or sockets alive; the run is over.
  process.exit(0)
}

if (process.env.BENCH_CHILD) {
  main(JSON.parse(process.env.BENCH_CHILD) as ChildConfig).catch((e: Error) => {
    send({ type: 'error', message: String(e?.stack ?? e) })
    process.exit(1)
  })
}
