// Options are checked against the native option table: typos, wrong types and out-of-range values
// are ERR_FLUENT_CONFIG with a message naming the key (REVIEW-0.1 smaller findings; issue #8).
import test from 'ava'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as api from '../index.js'
import { optionSpecs } from '../binding.js'
import { FluentClient, FluentError } from '../index.js'

function configError(t: import('ava').ExecutionContext, fn: () => unknown, why: string): FluentError {
  const err = t.throws(fn, undefined, why) as FluentError
  t.true(err instanceof FluentError, why)
  t.is(err.code, 'ERR_FLUENT_CONFIG', `${why}: ${err.message}`)
  return err
}

test('an unknown option names the key and the nearest valid one', (t) => {
  const err = configError(t, () => new FluentClient({ requireAcks: true } as never), 'typo')
  t.regex(err.message, /"requireAcks".*"requireAck"/)
  const err2 = configError(t, () => new FluentClient({ flushIntervalMS: 5 } as never), 'case typo')
  t.regex(err2.message, /"flushIntervalMS".*"flushIntervalMs"/)
})

test('wrong types and out-of-range values are refused, never coerced', (t) => {
  const bad: Array<Record<string, unknown>> = [
    { timeAsInteger: 'no' },
    { requireAck: 1 },
    { port: '24224' },
    { port: 0 },
    { port: 70_000 },
    { port: 1.5 },
    { host: '' },
    { host: 42 },
    { mode: 'json' },
    { overflow: 'block' },
    { compress: 'lz4' },
    { compress: true },
    { compress: 'zstd', compressionLevel: 0 },
    { compress: 'zstd', compressionLevel: 20 },
    { mode: 'message', compress: 'zstd' },
    { compressionLevel: 3 },
    { compress: 'gzip', compressionLevel: 10 },
    { maxBufferBytes: -5 },
    { maxBufferBytes: 2 ** 41 },
    { maxBufferBytes: 1000, maxRecordBytes: 4000 },
    { mode: 'message', compress: 'gzip' },
    { writeTimeoutMs: 0 },
    { ackTimeoutMs: Infinity },
    { connectTimeoutMs: NaN },
    { flushIntervalMs: 86_400_001 },
    { exitFlushTimeoutMs: -1 },
    { exitFlushTimeoutMs: 600_001 },
    { maxBatchAttempts: 0 },
    { maxInFlight: 1025 },
    { reconnectInitialDelayMs: 500, reconnectMaxDelayMs: 100 },
    { path: '/tmp/x.sock', port: 24224 },
  ]
  for (const opts of bad) configError(t, () => new FluentClient(opts as never), JSON.stringify(opts))
  configError(t, () => new FluentClient(null as never), 'null options')
  configError(t, () => new FluentClient('localhost' as never), 'string options')
})

test('flush and close timeouts are range-checked, synchronously', (t) => {
  const log = new FluentClient({ port: 1, exitFlushTimeoutMs: 0 })
  log.on('error', () => {})
  for (const timeoutMs of [-1, 1.5, 2 ** 32, NaN, '100']) {
    configError(t, () => log.flush({ timeoutMs } as never), `flush ${String(timeoutMs)}`)
    configError(t, () => log.close({ timeoutMs } as never), `close ${String(timeoutMs)}`)
  }
  configError(t, () => log.flush({ timeout: 5 } as never), 'flush typo')
  void log.close({ timeoutMs: 0 })
})

test("docs/options.md's main table lists exactly the options the native table defines", (t) => {
  // docs/options.md is generated (scripts/docs-options.cjs; docs.spec.ts checks it is current); this
  // checks the generator's main table against the native table independently of the generator.
  const page = readFileSync(fileURLToPath(new URL('../docs/options.md', import.meta.url)), 'utf8')
  const table = page.slice(page.indexOf('| option |'), page.indexOf('\n## '))
  const listed = new Set<string>()
  for (const row of table.split('\n').filter((l) => l.startsWith('| `'))) {
    for (const m of row.split('|')[1].matchAll(/`(\w+)`/g)) listed.add(m[1])
  }
  const names = optionSpecs().map((s) => s.name)
  // Flat options, plus the option objects (tls, security, breaker) whose keys are `<group>.<key>`.
  const groups = names.filter((n) => n.includes('.')).map((n) => n.split('.')[0]).filter((g) => g !== 'flush' && g !== 'close')
  // errorHandler is a function: checked on the JS side, never in the native table.
  const expected = [...new Set([...names.filter((n) => !n.includes('.')), ...groups, 'errorHandler'])]
  t.deepEqual([...listed].sort(), expected.sort())
})

test('the public surface has no internals', (t) => {
  // (`default`, `__esModule` and, on newer Node versions, `module.exports` are how Node presents a CommonJS module to `import`.)
  t.deepEqual(Object.keys(api).filter((k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports').sort(), [
    'EventTime',
    'FailedBatch',
    'FluentClient',
    'FluentError',
    'FluentReceiver',
    'METRIC_NAMES',
    'channels',
    'collectMetrics',
    'fallbackToClient',
    'fallbackToFile',
    'fallbackToStream',
  ])
  const log = new FluentClient({ port: 1, exitFlushTimeoutMs: 0 })
  log.on('error', () => {})
  const own = Object.getOwnPropertyNames(FluentClient.prototype).sort()
  t.deepEqual(own, ['close', 'constructor', 'emit', 'emitEntries', 'emitMany', 'emitRaw', 'flush', 'logger', 'metrics', 'stats', 'toWritable'])
  t.deepEqual(Object.getOwnPropertySymbols(FluentClient.prototype), [])
  const dts = readFileSync(fileURLToPath(new URL('../index.d.ts', import.meta.url)), 'utf8')
  const client = readFileSync(fileURLToPath(new URL('../src/client.d.ts', import.meta.url)), 'utf8')
  for (const internal of ['deliver(', 'closeSync', 'StageOwner', 'StageSink', 'NativeClient', 'pushStaged']) {
    t.false(dts.includes(internal), internal)
    t.false(client.includes(internal), internal)
  }
  void log.close({ timeoutMs: 0 })
})
