// Exit: every client drains at once against one deadline, whatever the DNS or server state, and
// what is left is reported before the process is gone (REVIEW-0.1 #2, #4, #8, #9, #12).
import test from 'ava'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from './child.ts'
import type { Run } from './child.ts'
import { Receiver, deadPort } from './helpers.ts'

const indexPath = fileURLToPath(new URL('../index.js', import.meta.url))
const req = `const { FluentClient } = require(${JSON.stringify(indexPath)})`

// --expose-gc: tests collect garbage before exiting, so nothing the exit needs may be held only weakly.
const node = (code: string, timeoutMs?: number) => run(process.execPath, ['--expose-gc', '-e', code], timeoutMs)

/** The child prints how long its own exit drain took: an 'exit' listener added after the clients runs after it. */
const timeDrain = `
  let exitAt = 0
  process.prependListener('exit', () => { exitAt = Date.now() })
  process.on('exit', () => process.stdout.write('DRAIN_MS ' + (Date.now() - exitAt) + '\\n'))
`
function drainMs(r: Run): number {
  const m = /DRAIN_MS (\d+)/.exec(r.stdout)
  if (m === null) throw new Error(`no drain time (status ${r.status}, signal ${r.signal}); stdout: ${r.stdout}; stderr: ${r.stderr}`)
  return Number(m[1])
}

test('ten clients with the server down drain in parallel: the exit blocks about one exitFlushTimeoutMs, not ten', async (t) => {
  const port = await deadPort()
  const r = await node(`
    ${req}
    const clients = []
    for (let c = 0; c < 10; c++) {
      const log = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 800, reconnectInitialDelayMs: 50 })
      log.on('error', () => {})
      for (let i = 0; i < 100; i++) log.emit('exit.parallel', { c, i })
      clients.push(log)
    }
    ${timeDrain}
    process.exit(0)
  `)
  t.is(r.status, 0, r.stderr)
  const ms = drainMs(r)
  // One deadline (800 ms) plus the native margin (250 ms); one after another it would be 8 s or more.
  t.log(`drain ${ms} ms`)
  t.true(ms >= 700 && ms < 2500, `drain took ${ms} ms`)
})

test('a DNS lookup that hangs does not hold the exit past its deadline', async (t) => {
  // A network namespace whose only resolver swallows queries: getaddrinfo waits for its own timeouts
  // (5 s x 2 attempts), far past the 500 ms exit deadline. Needs root for the namespace, as CI has.
  const dir = mkdtempSync(join(tmpdir(), 'fluent-dns-'))
  const resolv = join(dir, 'resolv.conf')
  writeFileSync(resolv, 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n')
  const script = join(dir, 'child.js')
  writeFileSync(
    script,
    `
    const dgram = require('node:dgram')
    const sock = dgram.createSocket('udp4')
    sock.bind(53, '127.0.0.1', () => {
      sock.unref()
      ${req}
      const log = new FluentClient({ host: 'fluentd.logging.svc', port: 24224, exitFlushTimeoutMs: 500 })
      log.on('error', () => {})
      log.emit('exit.dns', { hello: 'world' })
      setTimeout(() => {
        ${timeDrain}
        process.exit(0)
      }, 300)
    })
  `,
  )
  const r = await run('unshare', [
    '-mn',
    'sh',
    '-c',
    `ip link set lo up && mount --bind ${resolv} /etc/resolv.conf && exec ${process.execPath} ${script}`,
  ])
  t.is(r.status, 0, r.stderr)
  const ms = drainMs(r)
  t.log(`drain ${ms} ms`)
  t.true(ms < 2000, `drain took ${ms} ms`)
})

test('records left at the exit deadline reach the error listener synchronously', async (t) => {
  const port = await deadPort()
  const r = await node(`
    ${req}
    const log = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 200 })
    const heard = []
    log.on('error', (e) => heard.push(e.code + ':' + (e.records ?? '')))
    for (let i = 0; i < 100; i++) log.emit('exit.report', { i })
    process.on('exit', () => process.stdout.write('HEARD ' + heard.filter((h) => h.startsWith('ERR_FLUENT_UNDELIVERED')).join(',') + '\\n'))
    setTimeout(() => {
      gc()
      gc()
      process.exit(0)
    }, 100)
  `)
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /HEARD ERR_FLUENT_UNDELIVERED:100\n/)
})

test('with no error listener, one warning line with the counts', async (t) => {
  const port = await deadPort()
  const r = await node(`
    ${req}
    for (let c = 0; c < 3; c++) {
      const log = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 200 })
      for (let i = 0; i < 10; i++) log.emit('exit.warn', { i })
    }
  `)
  t.is(r.status, 0, r.stderr)
  const lines = r.stderr.split('\n').filter((l) => l.includes('ERR_FLUENT_UNDELIVERED'))
  t.is(lines.length, 1, r.stderr)
  t.regex(lines[0], /30 record\(s\) from 3 client\(s\)/)
})

test('an emit from an exit listener after the drain is refused, counted and reported', async (t) => {
  const server = await Receiver.start()
  const r = await node(`
    ${req}
    const log = new FluentClient({ port: ${server.port} })
    log.emit('exit.late', { n: 1 })
    process.on('exit', () => {
      const accepted = log.emit('exit.late', { n: 2 })
      process.stdout.write('LATE ' + accepted + ' ' + log.stats().dropped + '\\n')
    })
  `)
  await server.waitFor(1, 5000)
  await server.close()
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /LATE false 1\n/)
  t.regex(r.stderr, /ERR_FLUENT_CLOSED/)
  t.deepEqual(
    server.entries.map((e) => e.record.n),
    [1],
  )
})

test('clients in Workers drain when the worker ends by itself, by process.exit(), or by terminate(), in any order', async (t) => {
  const server = await Receiver.start()
  const N = 20_000
  const r = await node(
    `
    const { Worker } = require('node:worker_threads')
    const body = (how) => \`
      const { parentPort } = require('node:worker_threads')
      ${req.replace(/`/g, '\\`')}
      const log = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 5000 })
      for (let i = 0; i < ${N}; i++) log.emit('worker.' + '\${how}', { i })
      parentPort.postMessage('emitted')
      if ('\${how}' === 'exit') process.exit(0)
      if ('\${how}' === 'terminate') setInterval(() => {}, 1000)
    \`
    const hows = ['natural', 'exit', 'terminate', 'natural', 'terminate', 'exit']
    let left = hows.length
    hows.forEach((how, k) => {
      const w = new Worker(body(how), { eval: true })
      w.on('message', () => { if (how === 'terminate') setTimeout(() => w.terminate(), 20 * k) })
      w.on('error', (e) => { console.error('worker error', e); process.exitCode = 1 })
      // Exit as soon as the last worker is gone: a drain left running in the background dies here.
      w.on('exit', () => { if (--left === 0) { console.log('ALL_WORKERS_DONE'); process.exit(0) } })
    })
  `,
    60_000,
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /ALL_WORKERS_DONE/)
  // On a shortfall, say which way of ending lost records and what the child reported (its drop
  // warning names the exit deadline when a drain ran past it).
  const perHow = (): string =>
    ['natural', 'exit', 'terminate'].map((how) => `${how} ${server.entries.filter((e) => e.tag === `worker.${how}`).length}`).join(', ')
  t.true(await server.waitFor(6 * N, 20_000), `got ${server.entries.length} (${perHow()}); child stderr: ${r.stderr || '(empty)'}`)
  await server.close()
  for (const how of ['natural', 'exit', 'terminate']) {
    t.is(server.entries.filter((e) => e.tag === `worker.${how}`).length, 2 * N, how)
  }
})

test("worker.terminate() drains the worker's clients before it is gone (env cleanup hook)", async (t) => {
  const server = await Receiver.start()
  const N = 100_000
  const r = await node(
    `
    const { Worker } = require('node:worker_threads')
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads')
      ${req.replace(/`/g, '\\`')}
      const log = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 10000 })
      for (let i = 0; i < ${N}; i++) log.emit('worker.terminated', { i, pad: 'p'.repeat(100) })
      log.stats() // hand the staged records over now: the worker is terminated from outside
      parentPort.postMessage('emitted')
      setInterval(() => {}, 1000)
    \`, { eval: true })
    w.on('message', () => w.terminate())
    // The main thread exits the moment the worker is gone: nothing may still be draining then.
    w.on('exit', () => process.exit(0))
  `,
    60_000,
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.status, 0, r.stderr)
  t.true(await server.waitFor(N, 20_000), `got ${server.entries.length}`)
  await server.close()
  t.is(new Set(server.entries.map((e) => e.record.i)).size, N)
})

// terminate() stops a Worker's JS wherever it is: here in a loop that never yields, so the timer
// that hands the stage over never fires, whatever the machine's load (a loaded machine once let a
// terminate() land in the instant between a Worker's last emit and the handover).
const spinUntilTerminated = 'for (;;) {}'

test('records a Worker staged but had not handed over when terminate() lands are delivered, each once, with their times', async (t) => {
  const server = await Receiver.start()
  const N = 5_000
  // 'parked': two clients in turn, so one stage is parked with records and the other owns the
  // stage. 'nested': the last records follow one that logged from a getter, which handed the stage
  // over in the middle of a record (the rest starts past what it handed over).
  const body = (how: string) => `
    const { parentPort } = require('node:worker_threads')
    ${req}
    const a = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 5000 })
    const b = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 5000 })
    const before = Date.now()
    for (let i = 0; i < ${N}; i++) {
      if ('${how}' === 'parked' && i % 2 === 1) b.emit('term.${how}.b', { i })
      else a.emit('term.${how}.a', { i })
    }
    if ('${how}' === 'nested') {
      a.emit('term.nested.a', { i: ${N}, get from() { b.emit('term.nested.b', { i: -1 }); return 'getter' } })
      a.emit('term.nested.a', { i: ${N + 1} })
    }
    parentPort.postMessage('${how} ' + before + ' ' + Date.now())
    ${spinUntilTerminated}
  `
  const bodies = { parked: body('parked'), nested: body('nested') }
  const r = await node(
    `
    const { Worker } = require('node:worker_threads')
    const bodies = ${JSON.stringify(bodies)}
    let left = 2
    for (const how of ['parked', 'nested']) {
      const w = new Worker(bodies[how], { eval: true })
      w.on('message', (m) => { console.log('EMITTED ' + m); w.terminate() })
      w.on('error', (e) => { console.error('worker error', e); process.exitCode = 1 })
      w.on('exit', () => { if (--left === 0) process.exit(0) })
    }
  `,
    60_000,
  )
  t.is(r.signal, null, r.stderr)
  t.is(r.status, 0, r.stderr)
  const expected: Record<string, number[]> = {
    'term.parked.a': Array.from({ length: N / 2 }, (_, k) => 2 * k),
    'term.parked.b': Array.from({ length: N / 2 }, (_, k) => 2 * k + 1),
    'term.nested.a': Array.from({ length: N + 2 }, (_, k) => k),
    'term.nested.b': [-1],
  }
  const total = Object.values(expected).reduce((n, is) => n + is.length, 0)
  await server.waitFor(total, 20_000)
  await server.close()
  const got: Record<string, number[]> = {}
  for (const e of server.entries) (got[e.tag] ??= []).push(e.record.i as number)
  for (const is of Object.values(got)) is.sort((x, y) => x - y)
  // Exactly the set: nothing lost, nothing sent twice (the hook must not resend what was handed over).
  t.deepEqual(got, expected, `child stderr: ${r.stderr || '(empty)'}`)
  t.is(r.stderr, '', 'nothing to report: every record was delivered')
  // Records stamped in JS (monotonic) and handed over at teardown are timed from the clock pair
  // taken when the stage was tracked: each time lies within its Worker's emit loop, not later.
  const windows = new Map([...r.stdout.matchAll(/EMITTED (\w+) (\d+) (\d+)/g)].map((m) => [m[1], [Number(m[2]), Number(m[3]) + 1]]))
  t.is(windows.size, 2, r.stdout)
  const outside = server.entries.filter((e) => {
    const [from, to] = windows.get(e.tag.split('.')[1]) ?? [0, 0]
    const time = e.time as { epoch: number; nano: number }
    const ms = time.epoch * 1000 + time.nano / 1e6
    return ms < from || ms > to
  })
  t.deepEqual(outside.slice(0, 3), [], `${outside.length} record(s) timed outside their emit loop (${JSON.stringify([...windows])})`)
})

test('records a Worker staged but had not handed over when terminate() lands count in its teardown report', async (t) => {
  const port = await deadPort()
  const r = await node(
    `
    const { Worker } = require('node:worker_threads')
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads')
      ${req.replace(/`/g, '\\`')}
      const log = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 200, reconnectInitialDelayMs: 50 })
      for (let i = 0; i < 100; i++) log.emit('term.down', { i })
      parentPort.postMessage('emitted')
      ${spinUntilTerminated}
    \`, { eval: true })
    w.on('message', () => w.terminate())
    w.on('exit', () => process.exit(0))
  `,
    60_000,
  )
  t.is(r.status, 0, r.stderr)
  t.regex(r.stderr, /fluent-native: 100 record\(s\) not delivered before the exit deadline \(environment teardown\)\n/)
})

test("records a Worker staged when the main thread's exit closed its client are reported by the Worker's teardown", async (t) => {
  const server = await Receiver.start()
  const r = await node(
    `
    const { Worker } = require('node:worker_threads')
    ${req} // the main thread's exit drain closes the Worker's client before the Worker is stopped
    const w = new Worker(\`
      const { parentPort } = require('node:worker_threads')
      ${req.replace(/`/g, '\\`')}
      const log = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 1000 })
      for (let i = 0; i < 100; i++) log.emit('term.closed', { i })
      parentPort.postMessage('emitted')
      ${spinUntilTerminated}
    \`, { eval: true })
    w.on('message', () => process.exit(0))
  `,
    60_000,
  )
  await server.close()
  t.is(r.status, 0, r.stderr)
  // Never handed over, so none was sent; all 100 are in the report.
  t.is(server.entries.length, 0)
  t.regex(r.stderr, /fluent-native: 100 record\(s\) not delivered \(environment teardown\): 0 left at the exit deadline, 100 staged but refused/)
})

test('a client made in an exit listener after the drain refuses and reports (nothing silently queued)', async (t) => {
  const port = await deadPort()
  const r = await node(`
    ${req}
    const first = new FluentClient({ port: ${port} })
    process.on('exit', () => {
      const late = new FluentClient({ port: ${port} })
      process.stdout.write('LATE_CLIENT ' + late.emit('exit.late', { n: 1 }) + ' ' + late.stats().dropped + '\\n')
    })
  `)
  t.is(r.status, 0, r.stderr)
  t.regex(r.stdout, /LATE_CLIENT false 1\n/)
  t.regex(r.stderr, /ERR_FLUENT_CLOSED/)
})

test('process exit with clients in six Workers: they drain in the same wait, not one Worker after another', async (t) => {
  const port = await deadPort()
  const started = Date.now()
  const r = await node(
    `
    const { Worker } = require('node:worker_threads')
    ${req} // loaded, with no client of its own: its exit drain closes the Workers' clients too
    let ready = 0
    for (let k = 0; k < 6; k++) {
      const w = new Worker(\`
        const { parentPort } = require('node:worker_threads')
        ${req.replace(/`/g, '\\`')}
        const log = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 1000, reconnectInitialDelayMs: 50 })
        for (let i = 0; i < 100; i++) log.emit('exit.workers', { i })
        log.stats()
        parentPort.postMessage('emitted')
        setInterval(() => {}, 1000)
      \`, { eval: true })
      w.on('message', () => { if (++ready === 6) { console.log('EXITING_AT ' + Date.now()); process.exit(0) } })
    }
  `,
    60_000,
  )
  t.is(r.status, 0, r.stderr)
  const exitingAt = Number(/EXITING_AT (\d+)/.exec(r.stdout)?.[1])
  const ms = Date.now() - exitingAt
  t.log(`exit took ${ms} ms (child ran ${Date.now() - started} ms)`)
  // One 1000 ms deadline plus margins; one Worker after another it would be 6 s or more.
  t.true(ms < 3500, `exit took ${ms} ms`)
  // Each Worker's teardown reports what it could not deliver.
  t.is(r.stderr.split('\n').filter((l) => l.includes('not delivered')).length, 6, r.stderr)
})

test('a client collected while it still held records: its drain is waited for and reported at exit', async (t) => {
  const port = await deadPort()
  const r = await node(`
    ${req}
    const kept = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 300 })
    kept.emit('exit.kept', { n: 1 })
    ;(() => {
      const lost = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 300 })
      for (let i = 0; i < 100; i++) lost.emit('exit.collected', { i })
      lost.stats()
    })()
    setTimeout(() => { gc(); gc(); setTimeout(() => { gc(); process.exit(0) }, 50) }, 50)
  `)
  t.is(r.status, 0, r.stderr)
  t.regex(r.stderr, /101 record\(s\) from 2 client\(s\)/)
})

// Issue 28: a record logged in the last turn of a process that then ends by itself (no flush, no
// close) may still be in the stage when 'exit' comes; the exit drain must deliver it.
test('a record still staged when the process ends by itself is delivered by the exit drain', async (t) => {
  const server = await Receiver.start()
  const r = await node(`
    ${req}
    const log = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 5000 })
    log.on('error', (e) => console.error(e.code, e.message))
    setImmediate(() => log.emit('exit.staged', { i: 1 }))
  `)
  t.is(r.signal, null, r.stderr)
  t.is(r.status, 0, r.stderr)
  t.true(await server.waitFor(1, 10_000), `got ${server.entries.length}; child stderr: ${r.stderr || '(empty)'}`)
  t.deepEqual(
    server.entries.map((e) => [e.tag, e.record.i]),
    [['exit.staged', 1]],
  )
  await server.close()
})
