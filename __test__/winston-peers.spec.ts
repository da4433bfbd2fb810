// abstract-winston-transport, the peer suite winston's own Console and Stream transports pass (it
// is mocha, so it runs in a child process): FluentTransport must pass all of it, 4 of 4.
import test from 'ava'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { run } from './child.ts'

const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js')
const suite = fileURLToPath(new URL('./peers/abstract-winston-transport.cjs', import.meta.url))

test('abstract-winston-transport passes 4 of 4 (log() with and without a callback, "logged")', async (t) => {
  const result = await run(process.execPath, [mocha, '--reporter', 'json', '--timeout', '20000', '--exit', suite], 60_000)
  const start = result.stdout.indexOf('{')
  const report = JSON.parse(result.stdout.slice(start)) as { stats: { tests: number; passes: number; failures: number }; failures: Array<{ fullTitle: string; err: { message: string } }> }
  t.deepEqual(
    report.failures.map((f) => `${f.fullTitle}: ${f.err.message}`),
    [],
  )
  t.is(report.stats.tests, 4)
  t.is(report.stats.passes, 4)
  t.is(result.status, 0, result.stderr)
})
