// Issue 27, "several processes": two clients never write one slot (a named slot held by a live
// process is a clear error naming the holder), and a cluster- or PM2-style app whose workers share
// one spool dir gets one slot per live process; the leftovers of a worker that died are adopted
// and replayed by a live one.
import test from 'ava'
import { basename } from 'node:path'
import { FluentClient } from '../index.js'
import { Receiver, deadPort, quick, until } from './helpers.ts'
import { SpoolApp } from './spool-app.ts'
import { coverage, identityProblems, range, spoolDir } from './spool-helpers.ts'

test('a named slot held by a live process: a second client gets ERR_FLUENT_SPOOL_LOCKED naming the holder; after the holder is SIGKILLed the slot opens', async (t) => {
  t.timeout(60_000)
  const port = await deadPort()
  const dir = spoolDir()
  const holder = await SpoolApp.start({ port, ...quick, spool: { dir, slot: 'api' } })
  t.teardown(() => holder.kill())
  // stats().spool.slot is the slot's directory.
  t.is(basename((await holder.stats()).spool?.slot ?? ''), 'api')

  const err = t.throws(() => new FluentClient({ port, spool: { dir, slot: 'api' } } as never)) as Error & { code?: string }
  t.log(err?.message)
  t.is(err?.code, 'ERR_FLUENT_SPOOL_LOCKED')
  t.true(err?.message.includes(String(holder.pid)), `the error names the holder's pid ${holder.pid}`)
  t.true(err?.message.includes('api'), 'and the slot')

  // Another name in the same dir is another slot: no conflict.
  const other = new FluentClient({ port, spool: { dir, slot: 'worker' } } as never)
  t.is(basename(other.stats().spool?.slot ?? ''), 'worker')
  // A second client of this process on a slot it already holds is refused too.
  const again = t.throws(() => new FluentClient({ port, spool: { dir, slot: 'worker' } } as never)) as Error & { code?: string }
  t.is(again?.code, 'ERR_FLUENT_SPOOL_LOCKED')
  t.true(again?.message.includes(String(process.pid)), `names this process (${process.pid}): ${again?.message}`)
  await other.close({ timeoutMs: 0 })

  // The kernel releases the lock of a killed process: no stale pid file keeps the slot.
  await holder.kill()
  const next = new FluentClient({ port, spool: { dir, slot: 'api' } } as never)
  t.is(basename(next.stats().spool?.slot ?? ''), 'api')
  const report = (await next.close({ timeoutMs: 0 })) as any
  t.deepEqual(identityProblems('close report', report), [])
})

test('bad spool options are ERR_FLUENT_CONFIG at construction, not a silent memory-only client', (t) => {
  const dir = spoolDir()
  for (const spool of [{}, { dir: '' }, { dir, maxBytes: 1000 }, { dir, syncIntervalMs: -2 }, { dir, slot: '../escape' }, { dir, unknown: 1 }]) {
    const err = t.throws(() => new FluentClient({ spool } as never), undefined, JSON.stringify(spool)) as Error & { code?: string }
    t.is(err?.code, 'ERR_FLUENT_CONFIG', `${JSON.stringify(spool)}: ${err?.message}`)
  }
})

test('workers sharing one spool dir: one slot each; a worker SIGKILLed with records on disk has them adopted and replayed by a live one', async (t) => {
  t.timeout(150_000)
  const port = await deadPort()
  const dir = spoolDir()
  const M = 3000
  const base = (w: number) => w * 1_000_000
  const options = { port, requireAck: true, ...quick, spool: { dir } }
  const workers: SpoolApp[] = []
  for (let w = 0; w < 3; w++) workers.push(await SpoolApp.start(options))
  t.teardown(() => Promise.all(workers.map((w) => w.kill())))
  for (let w = 0; w < 3; w++) t.deepEqual((await workers[w].emit(base(w), base(w) + M, 100)).refused, [])
  const slots = await Promise.all(workers.map(async (w) => (await w.stats()).spool?.slot))
  t.log(`slots ${slots.join(', ')}`)
  t.is(new Set(slots).size, 3, 'one slot per live process')
  t.true(slots.every((s) => typeof s === 'string' && s.length > 0))

  // Worker 1 dies once its records are on disk (the writer appended all of them).
  const onDisk = async () => ((await workers[1].stats()).spool?.records ?? 0) >= M
  let ready = false
  for (let k = 0; k < 200 && !ready; k++) {
    ready = await onDisk()
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.true(ready, "worker 1's records reached its spool slot")
  await workers[1].kill()

  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  // The live workers deliver their own records and, sooner or later, adopt the dead one's.
  const all = [0, 1, 2].flatMap((w) => range(base(w), base(w) + M))
  const received = () => server.entries.map((e) => e.record.i as number)
  let lastLength = -1
  let covered = false
  const arrived = await until(() => {
    if (server.entries.length !== lastLength) {
      lastLength = server.entries.length
      covered = coverage(all, received()).missing.length === 0
    }
    return covered
  }, 60_000)
  const reports = [await workers[0].close(10_000), await workers[2].close(10_000)]
  const got = coverage(all, received())
  const dead = got.missing.filter((i) => i >= base(1) && i < base(2)).length
  t.true(arrived, `${got.missing.length} record(s) missing, ${dead} of them the dead worker's`)
  t.deepEqual(got.missing.slice(0, 20), [])
  t.deepEqual(got.strays.slice(0, 20), [])
  for (const [k, r] of reports.entries()) {
    t.is(r.code, 0)
    t.deepEqual(identityProblems(`close report of live worker ${k === 0 ? 0 : 2}`, r.report), [])
  }
  const replayed = reports.reduce((n, r) => n + r.report.replayed, 0)
  t.log(`replayed by the live workers: ${reports.map((r) => r.report.replayed).join(' + ')}; duplicates ${got.duplicates}`)
  t.true(replayed >= M, `the live workers replayed the dead one's ${M} records (replayed ${replayed})`)
  t.is(got.duplicates, 0, 'nothing had been sent before the kill: nothing arrives twice')
})
