/**
 * Memory under a server outage: each client, in its own process, emits N small records while
 * nothing listens, and reports its peak RSS. fluent-native's buffer is capped (maxBufferBytes,
 * default 64 MiB), so its peak should be the cap plus a constant; JS clients queue without bound.
 *
 *   node --import @oxc-node/core/register bench/outage.ts        (OUTAGE_EVENTS=3000000 by default)
 *
 * Writes bench/results/outage.json and outage.md.
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const N = Number(process.env.OUTAGE_EVENTS ?? 3_000_000)

async function deadPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as { port: number }).port
  await new Promise<void>((resolve) => srv.close(() => resolve()))
  return port
}

/** The child: CommonJS run with `node -e`, so no loader skews its memory. */
function childScript(kind: string, port: number, cap: number): string {
  const setup: Record<string, string> = {
    baseline: `const emit = () => {}; const finish = () => {}`,
    native: `
      const { FluentClient } = require(${JSON.stringify(join(root, 'index.js'))})
      const c = new FluentClient({ port: ${port}, maxBufferBytes: ${cap}, exitFlushTimeoutMs: 0 })
      c.on('error', () => {})
      let refused = 0
      const emit = (r) => { if (!c.emit('outage', r)) refused++ }
      const finish = () => { const s = c.stats(); report.queuedBytes = s.queuedBytes; report.dropped = s.dropped }`,
    org: `
      const { FluentClient } = require(${JSON.stringify(join(root, 'node_modules/@fluent-org/logger'))})
      const c = new FluentClient('outage', { connection: { host: '127.0.0.1', port: ${port} } })
      const emit = (r) => { c.emit(r).catch(() => {}) }
      const finish = () => {}`,
  }
  return `
    const report = {}
    ${setup[kind]}
    const rss0 = process.memoryUsage().rss
    ;(async () => {
      for (let i = 0; i < ${N}; i++) {
        emit({ level: 'info', msg: 'hello world', n: i, user: 'u123', ok: true })
        if (i % 10000 === 9999) await new Promise((r) => setImmediate(r))
      }
      await new Promise((r) => setTimeout(r, 500))
      finish()
      report.startRssMB = rss0 / 2 ** 20
      report.peakRssMB = process.resourceUsage().maxRSS / 1024
      process.stdout.write(JSON.stringify(report) + '\\n')
      process.exit(0)
    })()`
}

const port = await deadPort()
const cap = 64 * 2 ** 20
const rows: Array<Record<string, unknown>> = []
for (const kind of ['baseline', 'native', 'org']) {
  const r = spawnSync(process.execPath, ['-e', childScript(kind, port, cap)], { encoding: 'utf8', timeout: 600_000 })
  const line = r.stdout.trim().split('\n').pop() ?? ''
  let parsed: Record<string, unknown> = {}
  try {
    parsed = JSON.parse(line)
  } catch {
    parsed = { error: (r.stderr || r.error?.message || 'no output').slice(0, 200) }
  }
  rows.push({ kind, ...parsed })
  console.log(kind, parsed)
}
const base = rows.find((r) => r.kind === 'baseline')?.peakRssMB as number
const md = [
  `# Peak RSS during a server outage (${N.toLocaleString('en-US')} small records emitted, nothing listening)`,
  '',
  `${new Date().toISOString()} · Node ${process.versions.node} · fluent-native maxBufferBytes = ${cap / 2 ** 20} MiB`,
  '',
  '| client | peak RSS MB | over an idle process (MB) | note |',
  '|---|---:|---:|---|',
  ...rows.map((r) => {
    const peak = r.peakRssMB as number
    const note =
      r.kind === 'native'
        ? `queued ${((r.queuedBytes as number) / 2 ** 20).toFixed(1)} MiB at the end, ${r.dropped} records dropped (dropNewest)`
        : r.kind === 'baseline'
          ? 'same loop, emit does nothing'
          : ((r.error as string) ?? 'unbounded queue')
    return `| ${r.kind} | ${peak?.toFixed(0) ?? '–'} | ${peak && base ? (peak - base).toFixed(0) : '–'} | ${note} |`
  }),
  '',
].join('\n')
mkdirSync(join(here, 'results'), { recursive: true })
writeFileSync(join(here, 'results', 'outage.json'), JSON.stringify({ events: N, cap, rows }, null, 2))
writeFileSync(join(here, 'results', 'outage.md'), md)
console.log(md)
