// Issue 27, "what survives what", first rows: a server outage longer than the memory buffer lasts,
// and the close/exit deadline. Against a real FluentServer, checking the ids it decoded; the
// accounting identity with the spool terms checked in each (spool-helpers.ts identityProblems).
// The SIGKILL, damage, disk and several-process rows are in spool-kill, spool-damage, spool-disk
// and spool-slots.spec.ts.
import test from 'ava'
import { FluentClient } from '../index.js'
import { Receiver, deadPort, quick, until } from './helpers.ts'
import { SpoolApp } from './spool-app.ts'
import { coverage, identityProblems, range, segmentBytes, spoolDir } from './spool-helpers.ts'

const KIB = 1024
const MIB = 1024 * 1024
/** Record {i, pad}: about 30 bytes of msgpack besides the pad. */
const PAD = 480

function ids(server: Receiver): number[] {
  return server.entries.map((e) => e.record.i as number)
}

/**
 * Emits records {i, pad} for i in [0, n) in chunks of 64 KiB; before each chunk waits (bounded, 2 s)
 * until `room(records accepted before)` holds. Returns the accepted ids.
 */
async function feed(client: FluentClient, n: number, room: (acceptedBefore: number) => boolean): Promise<number[]> {
  const accepted: number[] = []
  const chunk = Math.ceil((64 * KIB) / (PAD + 30))
  for (let from = 0; from < n; from += chunk) {
    const before = accepted.length
    await until(() => room(before), 2000)
    for (let i = from; i < Math.min(n, from + chunk); i++) if (client.emit('spool.outage', { i, pad: 'x'.repeat(PAD) })) accepted.push(i)
  }
  return accepted
}

test('an outage longer than the memory buffer: records beyond maxBufferBytes go to disk, none dropped, all delivered once the server is back', async (t) => {
  t.timeout(120_000)
  const port = await deadPort()
  const dir = spoolDir()
  const maxBufferBytes = 256 * KIB
  // 16x the memory buffer, well under the spool's cap.
  const N = Math.ceil((16 * maxBufferBytes) / (PAD + 30))
  const client = new FluentClient({ port, maxBufferBytes, maxRecordBytes: 8 * KIB, requireAck: true, ...quick, spool: { dir, maxBytes: 64 * MIB } } as never)
  const codes: string[] = []
  client.on('error', (e) => codes.push(e.code))
  // Paced like an application's logging over an outage: each chunk once the writer has appended the
  // ones before (bounded wait), so what is tested is where records go, not a race with the disk.
  const spool = () => (client.stats() as any).spool ?? {}
  const accepted = await feed(client, N, (before) => spool().appended >= before)
  const refused = N - accepted.length
  // The writer moves what memory cannot hold to disk; wait (bounded) until it holds everything.
  await until(() => spool().records >= N, 20_000)
  const during = client.stats() as any
  t.log(`during the outage: queuedBytes ${during.queuedBytes}, spool ${JSON.stringify(during.spool)}, dropped ${during.dropped}`)
  t.is(refused, 0, 'every emit was accepted')
  t.is(during.dropped, 0)
  t.is(during.spool?.state, 'ok')
  t.true(during.spool.bytes > maxBufferBytes, `the spool holds ${during.spool.bytes} bytes, more than the memory buffer`)
  t.true(segmentBytes(dir) > maxBufferBytes, 'and they are in segment files under the dir')
  t.true(during.spool.evicted > 0, 'batches were evicted from memory because they are on disk')
  t.deepEqual(identityProblems('stats() during the outage', during), [])

  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  t.true(await server.waitFor(N, 60_000), `received ${server.entries.length} of ${N}`)
  await client.flush({ timeoutMs: 30_000 })
  const report = (await client.close({ timeoutMs: 10_000 })) as any
  const got = coverage(range(0, N), ids(server))
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} record(s) never arrived`)
  t.deepEqual(got.strays, [])
  t.is(report.sent, N)
  t.is(report.dropped, 0)
  t.is(report.spooled, 0)
  t.deepEqual(identityProblems('close report', report), [])
  t.deepEqual(identityProblems('stats() after close', client.stats() as never), [])
  t.is(segmentBytes(dir) <= 16, true, `settled segments are deleted (${segmentBytes(dir)} bytes left)`)
  t.false(codes.some((c) => c.startsWith('ERR_FLUENT_SPOOL')), `no spool error: ${codes.join(', ')}`)
})

test('the same outage without a spool drops (the control: the row above is the spool at work)', async (t) => {
  const port = await deadPort()
  const maxBufferBytes = 256 * KIB
  const N = Math.ceil((16 * maxBufferBytes) / (PAD + 30))
  const client = new FluentClient({ port, maxBufferBytes, maxRecordBytes: 8 * KIB, requireAck: true, ...quick })
  client.on('error', () => {})
  let refused = 0
  for (let i = 0; i < N; i++) if (!client.emit('spool.outage', { i, pad: 'x'.repeat(PAD) })) refused++
  t.true(refused > N / 2, `refused ${refused} of ${N}`)
  t.is((client.stats() as any).spool, null, 'stats().spool is null without the option')
  const report = (await client.close({ timeoutMs: 0 })) as any
  t.deepEqual(identityProblems('close report', report), [])
  t.is(report.replayed, 0)
  t.is(report.spooled, 0)
})

test('past spool.maxBytes the overflow policy applies: every record beyond it counted, every accepted one delivered', async (t) => {
  t.timeout(120_000)
  const port = await deadPort()
  const dir = spoolDir()
  const maxBufferBytes = 256 * KIB
  const maxBytes = 1 * MIB
  // 4 MiB of records: more than memory and spool together.
  const N = Math.ceil((4 * MIB) / (PAD + 30))
  const client = new FluentClient({ port, maxBufferBytes, maxRecordBytes: 8 * KIB, requireAck: true, ...quick, spool: { dir, maxBytes } } as never)
  const codes: string[] = []
  client.on('error', (e) => codes.push(e.code))
  let peakSpool = 0
  const spool = () => (client.stats() as any).spool ?? {}
  // Paced as above; once the spool is nearly full, appends stop and the chunks go on at once.
  const accepted = await feed(client, N, (before) => {
    peakSpool = Math.max(peakSpool, spool().bytes ?? 0)
    return spool().appended >= before || spool().bytes > maxBytes - 256 * KIB
  })
  await until(() => (client.stats() as any).spool?.bytes >= maxBytes / 2, 10_000)
  const during = client.stats() as any
  t.log(`accepted ${accepted.length} of ${N}; spool ${JSON.stringify(during.spool)}; dropped ${during.dropped}, refused ${during.refused}`)
  t.true(accepted.length < N, 'memory and spool together cannot hold 4 MiB: some records were refused')
  t.true(accepted.length * (PAD + 30) > maxBufferBytes, 'more than the memory buffer was accepted (the spool took the rest)')
  t.true(peakSpool <= maxBytes, `the spool stayed within maxBytes (peak ${peakSpool})`)
  t.is(during.refused, N - accepted.length, 'every record beyond the cap is counted')
  t.deepEqual(identityProblems('stats() at the cap', during), [])

  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  t.true(await server.waitFor(accepted.length, 60_000), `received ${server.entries.length} of ${accepted.length}`)
  await client.flush({ timeoutMs: 30_000 })
  const report = (await client.close({ timeoutMs: 10_000 })) as any
  const got = coverage(accepted, ids(server))
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} accepted record(s) never arrived`)
  t.deepEqual(got.strays.slice(0, 20), [], 'nothing that was refused arrived')
  t.is(report.sent, accepted.length)
  t.is(report.dropped, N - accepted.length)
  t.deepEqual(identityProblems('close report', report), [])
})

for (const how of ['close', 'exit'] as const) {
  test(`the ${how} deadline with the server down: what is left stays on disk, and a new process on the same dir delivers it`, async (t) => {
    t.timeout(120_000)
    const port = await deadPort()
    const dir = spoolDir()
    const N = 5000
    // A failure handler that takes everything: records left on disk must not be handed to it.
    const options = { port, requireAck: true, ...quick, exitFlushTimeoutMs: 300, handler: true, spool: { dir } }
    const first = await SpoolApp.start(options)
    const e = await first.emit(0, N, 100)
    t.deepEqual(e.refused, [])
    let left: any
    if (how === 'close') {
      const r = await first.close(300)
      t.is(r.code, 0, first.stderr)
      left = r.report
      t.deepEqual(identityProblems('close report', r.report), [])
      t.deepEqual(identityProblems('stats() after close', r.stats), [])
      t.is(r.handlerRecords, 0, 'nothing was handed to the failure handler')
    } else {
      const r = await first.exit()
      t.is(r.code, 0, first.stderr)
      left = first.exitStats?.stats
      t.deepEqual(identityProblems('stats() after the exit drain', left), [])
      t.is(first.exitStats?.handlerRecords, 0, 'nothing was handed to the failure handler')
    }
    t.log(`left by the first process: ${JSON.stringify(left)}`)
    t.is(left.spooled, N, `all ${N} records stayed on disk`)
    t.is(left.sent, 0)
    t.is(left.pending, 0)
    t.is(left.dropped, 0)
    t.is(left.handled, 0)
    t.true(segmentBytes(dir) > N * 100, 'the segment files hold them')

    const server = await Receiver.start(port)
    t.teardown(() => server.close())
    const second = await SpoolApp.start({ port, requireAck: true, ...quick, spool: { dir } })
    t.true(await server.waitFor(N, 60_000), `received ${server.entries.length} of ${N}`)
    const r = await second.close(10_000)
    t.is(r.code, 0, second.stderr)
    t.log(`second process: ${JSON.stringify(r.report)}`)
    const got = coverage(range(0, N), ids(server))
    t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} record(s) never arrived`)
    // Nothing was sent before, so nothing can come twice.
    t.is(got.duplicates, 0)
    t.is(r.report.replayed, N)
    t.is(r.report.sent, N)
    t.is(r.report.spooled, 0)
    t.is(r.stats.spool?.replayed, N)
    t.deepEqual(identityProblems('close report of the second process', r.report), [])
    t.deepEqual(second.events.filter((e) => e.type !== 'error' || e.code?.startsWith('ERR_FLUENT_SPOOL')), [])
  })
}

test('replay comes first: leftovers are sent oldest first, before the new records of the process that opened them', async (t) => {
  t.timeout(120_000)
  const port = await deadPort()
  const dir = spoolDir()
  const OLD = 3000
  const first = await SpoolApp.start({ port, ...quick, spool: { dir } })
  await first.emit(0, OLD, 50)
  const left = await first.close(200)
  t.is(left.report.spooled, OLD)

  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  const second = await SpoolApp.start({ port, requireAck: true, ...quick, spool: { dir } })
  // New records at once, while the replay runs.
  await second.emit(100_000, 100_000 + 1000, 50)
  t.true(await server.waitFor(OLD + 1000, 60_000), `received ${server.entries.length}`)
  const r = await second.close(10_000)
  const order = ids(server)
  const firstNew = order.findIndex((i) => i >= 100_000)
  const lastOld = order.findLastIndex((i) => i < OLD)
  t.true(lastOld < firstNew, `the last leftover arrived at position ${lastOld}, the first new record at ${firstNew}`)
  const old = order.filter((i) => i < OLD)
  t.deepEqual(old, range(0, OLD), 'leftovers in the order they were emitted')
  t.deepEqual(identityProblems('close report', r.report), [])
  t.is(r.report.replayed, OLD)
  t.is(r.report.emitted, 1000)
})

test("emit's answer stays the truth while leftovers are read back: every true is emitted, every false refused", async (t) => {
  t.timeout(60_000)
  const port = await deadPort()
  const dir = spoolDir()
  const first = new FluentClient({ port, batchBytes: 16 * KIB, ...quick, spool: { dir } } as never)
  first.on('error', () => {})
  const OLD = 60_000
  for (let i = 0; i < OLD; i++) first.emit('spool.old', { i, pad: 'p'.repeat(100) })
  t.is(((await first.close({ timeoutMs: 100 })) as any).spooled, OLD)
  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  // A small buffer, so the batches read back from disk fill it while the app keeps emitting.
  const client = new FluentClient({ port, requireAck: true, maxBufferBytes: 64 * KIB, maxRecordBytes: 8 * KIB, ...quick, spool: { dir } } as never)
  client.on('error', () => {})
  let yes = 0
  let no = 0
  for (let turn = 0; turn < 2000 && (client.stats() as any).replayed < OLD; turn++) {
    for (let i = 0; i < 200; i++) {
      if (client.emit('spool.new', { i, pad: 'q'.repeat(100) })) yes++
      else no++
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  const report = (await client.close({ timeoutMs: 10_000 })) as any
  t.log(`emit said true ${yes}, false ${no}; report ${JSON.stringify(report)}`)
  t.is(report.emitted, yes, 'records emit accepted are counted as emitted')
  t.is(report.refused, no, 'and only those it refused as refused')
  t.deepEqual(identityProblems('close report', report), [])
})

test('a close before the replay is done: what it read and did not send is spooled, the files it had not read stay on disk as unread, and the next process sends them all', async (t) => {
  t.timeout(60_000)
  const port = await deadPort()
  const dir = spoolDir()
  const OLD = 20_000
  const first = new FluentClient({ port, batchBytes: 16 * KIB, ...quick, spool: { dir } } as never)
  first.on('error', () => {})
  for (let i = 0; i < OLD; i++) first.emit('spool.old', { i, pad: 'p'.repeat(40) })
  t.is(((await first.close({ timeoutMs: 100 })) as any).spooled, OLD)
  // The server is still down: the second process cannot send anything before its close.
  const second = new FluentClient({ port, ...quick, spool: { dir } } as never)
  second.on('error', () => {})
  await new Promise((resolve) => setTimeout(resolve, 300))
  const mid = (await second.close({ timeoutMs: 0 })) as any
  const midSpool = (second.stats() as any).spool
  t.log(`second process: ${JSON.stringify(mid)}; unread files ${midSpool.unreadFiles}`)
  t.deepEqual(identityProblems('close report of the process that closed mid-replay', mid), [])
  t.is(mid.sent, 0)
  // What it read (and so counted as replayed) it left on disk, counted as spooled; the rest of the
  // leftovers it never read, so they are in no count of its own: unread files, for the next process.
  t.is(mid.spooled, mid.replayed)
  t.true(mid.replayed < OLD, `it read ${mid.replayed} of ${OLD} in 300 ms with the server down`)
  t.true(midSpool.unreadFiles > 0, 'the leftovers it had not read are reported as unread files')

  const server = await Receiver.start(port)
  t.teardown(() => server.close())
  const third = new FluentClient({ port, requireAck: true, ...quick, spool: { dir } } as never)
  third.on('error', () => {})
  t.true(await server.waitFor(OLD, 30_000), `received ${server.entries.length} of ${OLD}`)
  const last = (await third.close({ timeoutMs: 10_000 })) as any
  const got = coverage(range(0, OLD), ids(server))
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} record(s) never arrived`)
  t.is(got.duplicates, 0)
  t.is(last.replayed, OLD)
  t.deepEqual(identityProblems('close report of the third process', last), [])
})
