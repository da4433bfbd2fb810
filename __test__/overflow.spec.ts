// Each overflow policy with the server down: memory stays under the cap and every drop is counted.
import test from 'ava'
import { FluentClient, FluentError } from '../index.js'
import { Receiver, deadPort, quick, until } from './helpers.ts'

const CAP = 256 * 1024
const record = { msg: 'x'.repeat(200) }

async function fill(policy: 'dropNewest' | 'dropOldest' | 'error', port: number) {
  const client = new FluentClient({ port, maxBufferBytes: CAP, maxRecordBytes: 4096, overflow: policy, ...quick })
  const errors: FluentError[] = []
  client.on('error', (e: FluentError) => errors.push(e))
  let accepted = 0
  let refused = 0
  let thrown: FluentError | undefined
  for (let i = 0; i < 5000; i++) {
    try {
      if (client.emit('overflow.test', { ...record, i })) accepted++
      else refused++
    } catch (e) {
      thrown = e as FluentError
      refused++
    }
    if (client.stats().queuedBytes > CAP) throw new Error('cap exceeded')
  }
  return { client, errors, accepted, refused, thrown }
}

test('dropNewest refuses new records, keeps the oldest, counts and reports drops', async (t) => {
  const port = await deadPort()
  const { client, errors, accepted, refused } = await fill('dropNewest', port)
  t.true(accepted > 0 && refused > 0)
  t.is(accepted + refused, 5000)
  const s = client.stats()
  t.is(s.dropped, refused)
  t.true(s.queuedBytes <= CAP)
  // Drops are reported in bulk through the error handler.
  await until(() => errors.some((e) => e.code === 'ERR_FLUENT_QUEUE_FULL'), 2000)
  const full = errors.filter((e) => e.code === 'ERR_FLUENT_QUEUE_FULL')
  t.true(full.length >= 1)
  t.true(full.every((e) => e instanceof FluentError && (e.records ?? 0) > 0))
  const report = await client.close({ timeoutMs: 100 })
  t.is(report.pending, accepted)
  t.is(report.dropped, refused)
})

test('dropOldest accepts every record and discards the oldest batches', async (t) => {
  const port = await deadPort()
  const { client, accepted, refused } = await fill('dropOldest', port)
  t.is(accepted, 5000)
  t.is(refused, 0)
  const s = client.stats()
  t.true(s.dropped > 0)
  t.true(s.queuedBytes <= CAP)
  t.is(s.queuedRecords + s.dropped, 5000)
  await client.close({ timeoutMs: 50 })
})

test('error policy throws ERR_FLUENT_QUEUE_FULL synchronously', async (t) => {
  const port = await deadPort()
  const { client, thrown, accepted, refused } = await fill('error', port)
  t.true(thrown instanceof FluentError)
  t.is(thrown?.code, 'ERR_FLUENT_QUEUE_FULL')
  t.is(client.stats().dropped, refused)
  t.true(accepted > 0)
  await client.close({ timeoutMs: 50 })
})

test('dropOldest: what is kept is the newest, and it is delivered once the server is up', async (t) => {
  const port = await deadPort()
  const { client } = await fill('dropOldest', port)
  const kept = client.stats().queuedRecords
  const back = await Receiver.start(port)
  // The discarded records were emitted before this flush and never delivered: it says so.
  const flushed = await client.flush({ timeoutMs: 10_000 }).catch((e: FluentError) => e)
  t.is((flushed as FluentError).code, 'ERR_FLUENT_UNDELIVERED')
  t.is((flushed as FluentError).records, 5000 - kept)
  const report = await client.close()
  t.true(await back.waitFor(kept))
  await back.close()
  t.is(back.entries.length, kept)
  const ids = back.entries.map((e) => e.record.i as number).sort((a, b) => a - b)
  t.is(ids[ids.length - 1], 4999)
  t.is(ids[0], 5000 - kept)
  t.is(report.sent, kept)
})
