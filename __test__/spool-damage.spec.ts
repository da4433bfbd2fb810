// Issue 27, "what survives what": a torn write or a corrupted segment file. A first client leaves
// records on disk (server down, short close deadline); the test damages one frame it chose by
// reading the segment (spool-format.ts), so it knows exactly which records that frame held; a
// second client on the same slot must skip them, count the damage, report it in an error event
// naming the file, and deliver every other record, exactly once.
import test from 'ava'
import type { ExecutionContext } from 'ava'
import { closeSync, openSync, readSync, truncateSync, writeSync } from 'node:fs'
import { basename } from 'node:path'
import { FluentClient } from '../index.js'
import { Receiver, deadPort, quick, until } from './helpers.ts'
import { readSegment } from './spool-format.ts'
import type { Frame } from './spool-format.ts'
import { coverage, identityProblems, range, segmentFiles, spoolDir } from './spool-helpers.ts'

const N = 4000
const SLOT = 'app'

/** N records left on disk by a client whose server never came (batches of about 2 KiB: many frames). */
async function leftovers(t: ExecutionContext): Promise<{ dir: string; port: number }> {
  const port = await deadPort()
  const dir = spoolDir()
  const client = new FluentClient({ port, batchBytes: 2048, ...quick, spool: { dir, slot: SLOT } } as never)
  client.on('error', () => {})
  for (let i = 0; i < N; i++) client.emit('spool.damage', { i, pad: 'y'.repeat(40) })
  const report = (await client.close({ timeoutMs: 200 })) as any
  t.is(report.spooled, N, 'the first client left every record on disk')
  return { dir, port }
}

/** Replays `dir` into a real server; returns what arrived, the client's report and its error events. */
async function replay(dir: string, port: number, expected: number) {
  const server = await Receiver.start(port)
  const client = new FluentClient({ port, requireAck: true, ...quick, spool: { dir, slot: SLOT } } as never)
  const errors: Array<{ code: string; message: string }> = []
  client.on('error', (e) => errors.push({ code: e.code, message: e.message }))
  await server.waitFor(expected, 60_000)
  await until(() => errors.some((e) => e.code === 'ERR_FLUENT_SPOOL_CORRUPT'), 10_000)
  await client.flush({ timeoutMs: 30_000 })
  const stats = client.stats() as any
  const report = (await client.close({ timeoutMs: 10_000 })) as any
  await server.close()
  return { ids: server.entries.map((e) => e.record.i as number), stats, report, errors }
}

function check(t: ExecutionContext, file: string, lost: Frame, r: Awaited<ReturnType<typeof replay>>) {
  t.log(`damaged ${basename(file)} at ${lost.offset} (${lost.ids.length} records); errors ${JSON.stringify(r.errors)}; spool ${JSON.stringify(r.stats.spool)}`)
  const corrupt = r.errors.filter((e) => e.code === 'ERR_FLUENT_SPOOL_CORRUPT')
  t.true(corrupt.length >= 1, 'the damage was reported as ERR_FLUENT_SPOOL_CORRUPT')
  t.true(
    corrupt.some((e) => e.message.includes(basename(file))),
    `an error names the damaged file ${basename(file)}: ${corrupt.map((e) => e.message).join(' | ')}`,
  )
  const lostIds = new Set(lost.ids)
  const want = range(0, N).filter((i) => !lostIds.has(i))
  const got = coverage(want, r.ids)
  t.deepEqual(got.missing.slice(0, 20), [], `${got.missing.length} undamaged record(s) never arrived`)
  t.deepEqual(got.strays.slice(0, 20), [], 'no record of the damaged frame arrived')
  t.is(got.duplicates, 0)
  t.is(r.stats.spool?.corrupted, 1, 'one damaged stretch counted')
  t.true(r.stats.spool?.corruptedBytes > 0, 'its bytes counted')
  t.is(r.report.replayed, want.length, 'everything else was read back')
  t.is(r.report.sent, want.length)
  t.deepEqual(identityProblems('close report', r.report), [])
}

test('a corrupted byte in a segment file: that frame is skipped, counted and reported with the file; the rest is delivered', async (t) => {
  t.timeout(120_000)
  const { dir, port } = await leftovers(t)
  const file = segmentFiles(dir)[0]
  const { frames } = readSegment(file)
  t.true(frames.length >= 3, `${frames.length} frames in ${file}`)
  const victim = frames[Math.floor(frames.length / 2)]
  // Flip one byte inside a record of that frame (not its header): only the checksum can tell.
  const at = victim.entriesAt + 5
  const fd = openSync(file, 'r+')
  const b = Buffer.alloc(1)
  readSync(fd, b, 0, 1, at)
  b[0] ^= 0x20
  writeSync(fd, b, 0, 1, at)
  closeSync(fd)
  const r = await replay(dir, port, N - victim.ids.length)
  check(t, file, victim, r)
  t.is(r.stats.spool?.corruptedBytes, victim.bytes, 'the damaged stretch is that one frame')
})

test('a torn tail (the last frame cut short): it is skipped, counted and reported with the file; the rest is delivered', async (t) => {
  t.timeout(120_000)
  const { dir, port } = await leftovers(t)
  const files = segmentFiles(dir)
  const file = files[files.length - 1]
  const { frames } = readSegment(file)
  const last = frames[frames.length - 1]
  truncateSync(file, last.offset + Math.floor(last.bytes / 2))
  const r = await replay(dir, port, N - last.ids.length)
  check(t, file, last, r)
})
