// pino's destination() holds its lines for a moment on the main thread and hands them over
// together (src/held-lines.ts). What must hold whatever the timing: lines arrive with no flush, in
// order; stats() and flush() find them; the exit drain delivers lines
// written in a process's last turn; and in a Worker nothing is held (terminate() runs no JS).
import test from 'ava'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { destination } from '../src/pino.js'
import { runNode as node } from './child.ts'
import { Receiver, until } from './helpers.ts'

const pinoModule = fileURLToPath(new URL('../src/pino.js', import.meta.url))
const pinoPath = fileURLToPath(import.meta.resolve('pino'))

test('lines logged one per event-loop turn arrive in order with no flush, stats or close', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'turns', flushIntervalMs: 5 })
  const log = pino({ base: undefined }, dest)
  const n = 200
  for (let i = 0; i < n; i++) {
    log.info({ i }, 'turn')
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.true(await server.waitFor(n, 10_000), `got ${server.entries.length} of ${n}`)
  t.deepEqual(
    server.entries.map((e) => e.record.i),
    Array.from({ length: n }, (_, i) => i),
  )
  await dest.client.close()
  await server.close()
})

test('stats() counts held lines as buffered at once, and flush() delivers them', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'held' })
  const log = pino({ base: undefined }, dest)
  log.info({ n: 1 }, 'one')
  t.is(dest.client.stats().emitted, 1, 'stats() hands the held line over first')
  log.info({ n: 2 }, 'two')
  // No stats() before it: flush() itself must hand the held line over.
  await dest.flush()
  t.deepEqual(
    server.entries.map((e) => e.record.n),
    [1, 2],
  )
  await dest.client.close()
  await server.close()
})

test('lines written in the last turn of a process that ends by itself, or calls process.exit(), are delivered', async (t) => {
  const server = await Receiver.start()
  for (const end of ['', 'process.exit(0)']) {
    const before = server.entries.length
    const r = await node(`
      const pino = require(${JSON.stringify(pinoPath)})
      const { destination } = require(${JSON.stringify(pinoModule)})
      const dest = destination({ port: ${server.port}, tag: 'last', exitFlushTimeoutMs: 5000 })
      const log = pino({ base: undefined }, dest)
      setImmediate(() => {
        for (let i = 0; i < 3; i++) log.info({ i, end: ${JSON.stringify(end)} }, 'last')
        ${end}
      })
    `)
    t.is(r.status, 0, r.stderr)
    t.true(await server.waitFor(before + 3, 10_000), `${end || 'ends by itself'}: got ${server.entries.length - before}; stderr: ${r.stderr}`)
    t.deepEqual(
      server.entries.slice(before).map((e) => [e.record.i, e.record.end]),
      [0, 1, 2].map((i) => [i, end]),
    )
  }
  await server.close()
})

test('in a Worker, terminate() right after a write loses nothing: lines are not held there', async (t) => {
  const server = await Receiver.start()
  const r = await node(`
    const { Worker } = require('node:worker_threads')
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads')
      const pino = require(${JSON.stringify(pinoPath)})
      const { destination } = require(${JSON.stringify(pinoModule)})
      const dest = destination({ port: ${server.port}, tag: 'worker', exitFlushTimeoutMs: 5000 })
      const log = pino({ base: undefined }, dest)
      for (let i = 0; i < 5; i++) log.info({ i }, 'w')
      parentPort.postMessage('written')
      // Busy until terminated: no later turn could hand anything over.
      for (;;) {}
    \`, { eval: true })
    w.once('message', () => w.terminate())
  `)
  t.is(r.status, 0, r.stderr)
  t.true(await until(() => server.entries.length >= 5, 10_000), `got ${server.entries.length}; stderr: ${r.stderr}`)
  t.deepEqual(
    server.entries.map((e) => e.record.i),
    [0, 1, 2, 3, 4],
  )
  await server.close()
})

test('lines of every size around what is held (multi-byte characters, a Buffer between) arrive whole and in order', async (t) => {
  const server = await Receiver.start()
  const dest = destination({ port: server.port, tag: 'sizes', maxRecordBytes: 1 << 20 })
  const records: unknown[] = []
  for (let i = 0; i < 120; i++) {
    // From a few bytes to past the 64 KiB held at most (a line whose worst case does not fit goes at
    // once); each Buffer comes after lines that are held.
    const record = { i, s: 'é✓😀x'.repeat([3, 500, 4000, 13_000, 20][i % 5] + i) }
    records.push(record)
    if (i % 17 === 2) dest.write(Buffer.from(JSON.stringify(record) + '\n'))
    else dest.write(JSON.stringify(record) + '\n')
  }
  await dest.flush()
  t.deepEqual(
    server.entries.map((e) => e.record),
    records,
  )
  t.is(dest.client.stats().dropped, 0)
  await dest.client.close()
  await server.close()
})
