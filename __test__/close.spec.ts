// close() drains, reports what was not delivered, and stops accepting.
import test from 'ava'
import { FluentClient, FluentError } from '../index.js'
import { Receiver, deadPort, quick } from './helpers.ts'

test('close drains everything and resolves with the report', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, flushIntervalMs: 10_000 })
  for (let i = 0; i < 1000; i++) client.emit('close.test', { i })
  // The flush interval is long: only close's drain can send these now.
  const report = await client.close({ timeoutMs: 5000 })
  t.deepEqual(report, { emitted: 1000, refused: 0, sent: 1000, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
  t.true(await server.waitFor(1000))
  await server.close()
  t.is(server.entries.length, 1000)
})

test('close with the server down reports pending records after the deadline', async (t) => {
  const client = new FluentClient({ port: await deadPort(), ...quick })
  const errors: FluentError[] = []
  client.on('error', (e: FluentError) => errors.push(e))
  for (let i = 0; i < 100; i++) client.emit('close.down', { i })
  const started = Date.now()
  const report = await client.close({ timeoutMs: 300 })
  t.true(Date.now() - started < 3000)
  t.deepEqual(report, { emitted: 100, refused: 0, sent: 0, dropped: 0, pending: 100, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
  await new Promise((r) => setTimeout(r, 50))
  t.true(errors.some((e) => e.code === 'ERR_FLUENT_CONNECT'))
  const undelivered = errors.filter((e) => e.code === 'ERR_FLUENT_UNDELIVERED')
  t.is(undelivered.reduce((n, e) => n + (e.records ?? 0), 0), 100)
  t.is(undelivered[0].tag, 'close.down')
})

test('emit after close returns false, counts a drop and reports ERR_FLUENT_CLOSED once', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port })
  const errors: FluentError[] = []
  client.on('error', (e: FluentError) => errors.push(e))
  const closing = client.close()
  t.false(client.emit('late', { a: 1 }))
  t.false(client.emit('late', { a: 2 }))
  const report = await closing
  t.is(report.dropped, 2)
  t.is(client.stats().dropped, 2)
  t.is(errors.filter((e) => e.code === 'ERR_FLUENT_CLOSED').length, 1)
  t.is(await client.close(), report)
  await server.close()
})

test('flush resolves after delivery and rejects with ERR_FLUENT_TIMEOUT when it cannot', async (t) => {
  const server = await Receiver.start()
  const client = new FluentClient({ port: server.port, flushIntervalMs: 10_000 })
  for (let i = 0; i < 500; i++) client.emit('flush.test', { i })
  await client.flush()
  // Written to the socket; the server decodes asynchronously.
  t.true(await server.waitFor(500, 5000))
  await client.close()
  await server.close()

  const down = new FluentClient({ port: await deadPort(), ...quick })
  down.on('error', () => {})
  down.emit('flush.down', { a: 1 })
  const err = await t.throwsAsync(down.flush({ timeoutMs: 200 }))
  t.is((err as FluentError).code, 'ERR_FLUENT_TIMEOUT')
  await down.close({ timeoutMs: 10 })
})
