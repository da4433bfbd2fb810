// The cap is exact and emit's answer is the truth for every overflow policy, emitRaw included
// (REVIEW-0.1 #10 and the smaller findings on emitRaw and dropOldest).
import test from 'ava'
import { pack } from 'msgpackr'
import { FluentClient, FluentError } from '../index.js'
import type { OverflowPolicy } from '../index.js'
import { Receiver, deadPort, quick } from './helpers.ts'

const CAP = 128 * 1024

for (const overflow of ['dropNewest', 'dropOldest', 'error'] as OverflowPolicy[]) {
  test(`${overflow}: every true answer is a record in the buffer, every refusal is counted, emitRaw included`, async (t) => {
    const port = await deadPort()
    const log = new FluentClient({ port, ...quick, overflow, maxBufferBytes: CAP, maxRecordBytes: 4096, batchBytes: 8192 })
    log.on('error', () => {})
    let yes = 0
    let no = 0
    const raw = pack({ raw: true, pad: 'r'.repeat(300) })
    for (let i = 0; i < 3000; i++) {
      try {
        // Mostly emitRaw first, then emit: the estimate must follow what emitRaw buffered.
        const ok = i % 3 === 0 || i > 2000 ? log.emit('cap', { i, pad: 'e'.repeat(300) }) : log.emitRaw('cap', raw)
        if (ok) yes++
        else no++
      } catch (e) {
        t.is((e as FluentError).code, 'ERR_FLUENT_QUEUE_FULL')
        t.is(overflow, 'error')
        no++
      }
      if (i % 97 === 0) t.true(log.stats().queuedBytes <= CAP)
    }
    const s = log.stats()
    t.true(no > 0 || (overflow === 'dropOldest' && s.dropped > 0), 'the cap was reached')
    t.is(s.emitted, yes, 'emit said true exactly for the records the buffer took')
    t.is(s.dropped, no + (overflow === 'dropOldest' ? yes - s.queuedRecords : 0))
    t.true(s.queuedBytes <= CAP)
    if (overflow !== 'dropOldest') t.is(s.queuedRecords, yes)
    await log.close({ timeoutMs: 0 })
  })
}

test('under "error", emit after the buffer is full throws, whatever filled it', async (t) => {
  const port = await deadPort()
  const log = new FluentClient({ port, ...quick, overflow: 'error', maxBufferBytes: 32 * 1024, maxRecordBytes: 4096 })
  log.on('error', () => {})
  const raw = pack({ pad: 'z'.repeat(1000) })
  let thrown: FluentError | undefined
  for (let i = 0; i < 100 && thrown === undefined; i++) {
    try {
      log.emitRaw('cap.raw', raw)
    } catch (e) {
      thrown = e as FluentError
    }
  }
  t.is(thrown?.code, 'ERR_FLUENT_QUEUE_FULL')
  const err = t.throws(() => log.emit('cap.raw', { pad: 'z'.repeat(1000) })) as FluentError
  t.is(err.code, 'ERR_FLUENT_QUEUE_FULL')
  await log.close({ timeoutMs: 0 })
})

test('emitRaw refuses msgpack ext types a Forward server cannot decode, and keeps EventTime', async (t) => {
  const server = await Receiver.start()
  const log = new FluentClient({ port: server.port, ...quick })
  const date = pack({ at: new Date(0) }) // msgpackr writes a Date as ext -1
  const err = t.throws(() => log.emitRaw('cap.ext', date)) as FluentError
  t.is(err.code, 'ERR_FLUENT_ENCODE')
  t.regex(err.message, /ext type -1/)
  // { t: EventTime(1, 2) } as fixext 8, type 0
  const eventTime = Buffer.from([0x81, 0xa1, 0x74, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2])
  t.true(log.emitRaw('cap.ext', eventTime))
  t.true(log.emit('cap.ext', { after: true }))
  await log.close()
  await server.waitFor(2, 5000)
  await server.close()
  t.is(server.entries.length, 2)
  t.deepEqual(server.entries[1].record, { after: true })
})
