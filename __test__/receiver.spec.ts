// FluentReceiver: the bundled Rust receiver, fed by our client in every mode and by another client
// (@fluent-org/logger), over TCP, a Unix socket and TLS; its events, stats, waitFor, acks and close.
import test from 'ava'
import { readFileSync, mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FluentClient as OtherClient } from '@fluent-org/logger'
import { EventTime, FluentClient, FluentReceiver } from '../index.js'
import type { FluentError, ReceivedEvent } from '../index.js'

const record = {
  s: 'unicode ✓ 日本語',
  n: 42,
  neg: -7,
  f: 1.5,
  ms: 1_700_000_000_123,
  big: 2n ** 60n,
  b: true,
  nil: null,
  arr: [1, 'two', { three: 3 }],
  bin: Buffer.from([0, 1, 255]),
}

for (const mode of ['message', 'forward', 'packedForward'] as const) {
  for (const compress of [false, 'gzip'] as const) {
    if (compress === 'gzip' && mode !== 'packedForward') continue
    test(`decodes ${mode}${compress ? ' + gzip' : ''} with acks, value for value`, async (t) => {
      const r = await FluentReceiver.listen()
      const got: ReceivedEvent[] = []
      r.on('event', (ev) => got.push(ev))
      const client = new FluentClient({ port: r.port, mode, compress, requireAck: true })
      client.emit('recv.one', record, new EventTime(1_700_000_001, 999_999_999))
      client.emitMany('recv.many', Array.from({ length: 500 }, (_, i) => ({ i })), 1_700_000_002)
      t.deepEqual(await client.close(), { emitted: 501, refused: 0, sent: 501, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
      const s = await r.waitFor(501, 10_000)
      t.is(s.events, 501)
      t.true(s.acks >= 1)
      t.is(s.invalid + s.errors + s.sizeMismatch, 0)
      t.is(got.length, 501)
      const { bin, ...rest } = got[0].record as typeof record
      const { bin: sentBin, ...sentRest } = record
      t.deepEqual(rest, sentRest)
      t.deepEqual(Buffer.from(bin as Uint8Array), sentBin)
      t.is(got[0].tag, 'recv.one')
      t.deepEqual(got[0].time, new EventTime(1_700_000_001, 999_999_999))
      t.deepEqual(
        got.slice(1).map((e) => (e.record as { i: number }).i),
        Array.from({ length: 500 }, (_, i) => i),
      )
      t.true(got.slice(1).every((e) => e.tag === 'recv.many'))
      await r.close()
    })
  }
}

test('decodes what another client sends (@fluent-org/logger, integer times)', async (t) => {
  const r = await FluentReceiver.listen()
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const other = new OtherClient('other', { socket: { host: '127.0.0.1', port: r.port }, eventMode: 'Message' })
  await other.emit('x', { hello: 'world' }, 1_700_000_000_000)
  await r.waitFor(1, 10_000)
  await other.disconnect()
  t.deepEqual(got, [{ tag: 'other.x', time: 1_700_000_000, record: { hello: 'world' } }])
  await r.close()
})

test('for await yields every event until close; break stops one loop only', async (t) => {
  const r = await FluentReceiver.listen()
  const client = new FluentClient({ port: r.port, flushIntervalMs: 5 })
  const first: number[] = []
  const all: number[] = []
  const broke = (async () => {
    for await (const ev of r) {
      first.push(ev.record.i as number)
      if (first.length === 3) break
    }
  })()
  const whole = (async () => {
    for await (const ev of r) all.push(ev.record.i as number)
  })()
  for (let i = 0; i < 10; i++) client.emit('loop', { i })
  await client.flush()
  await r.waitFor(10, 10_000)
  await broke
  await r.close()
  await whole
  t.deepEqual(first, [0, 1, 2])
  t.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  await client.close()
})

test('waitFor rejects with ERR_FLUENT_TIMEOUT, and at close', async (t) => {
  const r = await FluentReceiver.listen()
  const err = await t.throwsAsync<FluentError>(r.waitFor(1, 50))
  t.is(err?.code, 'ERR_FLUENT_TIMEOUT')
  const pending = r.waitFor(1, 10_000)
  await r.close()
  const closed = await t.throwsAsync<FluentError>(pending)
  t.is(closed?.code, 'ERR_FLUENT_TIMEOUT')
  t.regex(closed?.message ?? '', /closed/)
})

test('ack: false withholds acks: events still arrive, the client cannot settle', async (t) => {
  const r = await FluentReceiver.listen({ ack: false })
  const client = new FluentClient({ port: r.port, requireAck: true, flushIntervalMs: 5 })
  client.emit('noack', { a: 1 })
  await r.waitFor(1, 10_000)
  const report = await client.close({ timeoutMs: 300 })
  t.is(report.sent, 0)
  t.is(report.pending, 1)
  t.is(r.stats().acks, 0)
  await r.close()
})

test('garbage closes that connection only; the others are still decoded', async (t) => {
  const r = await FluentReceiver.listen()
  const sock = connect(r.port!, '127.0.0.1')
  await new Promise<void>((resolve) => sock.on('connect', resolve))
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()))
  sock.on('error', () => {})
  sock.write(Buffer.from([0xc1, 0xc1, 0xc1]))
  await closed
  const client = new FluentClient({ port: r.port })
  client.emit('ok', { fine: true })
  await client.close()
  const s = await r.waitFor(1, 10_000)
  t.is(s.errors, 1)
  t.is(s.connections, 2)
  await r.close()
})

test('Unix socket, and TLS with a PEM certificate', async (t) => {
  if (process.platform === 'win32') {
    const err = await t.throwsAsync<FluentError>(FluentReceiver.listen({ path: 'C:\\nowhere.sock' }))
    t.is(err?.code, 'ERR_FLUENT_IO')
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'fluent-native-recv-'))
    const path = join(dir, 'r.sock')
    const r = await FluentReceiver.listen({ path })
    t.is(r.port, undefined)
    const client = new FluentClient({ path })
    client.emit('unix', { u: 1 })
    await client.close()
    await r.waitFor(1, 10_000)
    await r.close()
    rmSync(dir, { recursive: true, force: true })
  }
  const fixture = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url), 'utf8')
  const r = await FluentReceiver.listen({ tls: { cert: fixture('server.pem'), key: fixture('server.key') } })
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const client = new FluentClient({ port: r.port, tls: { ca: fixture('ca.pem'), servername: 'localhost' }, requireAck: true })
  client.emit('tls', { secret: 'over tls' })
  t.is((await client.close()).sent, 1)
  await r.waitFor(1, 10_000)
  t.deepEqual(got[0].record, { secret: 'over tls' })
  await r.close()
})

test('bad options and a taken port are typed errors', async (t) => {
  for (const bad of [{ port: -1 }, { nope: 1 }, { path: '/x', port: 1 }, { ack: 'yes' }, { tls: { cert: 'x', key: 'y' } }, { threads: 0 }]) {
    const err = await t.throwsAsync<FluentError>(FluentReceiver.listen(bad as never))
    t.is(err?.code, 'ERR_FLUENT_CONFIG', JSON.stringify(bad))
  }
  const r = await FluentReceiver.listen()
  const err = await t.throwsAsync<FluentError>(FluentReceiver.listen({ port: r.port }))
  t.is(err?.code, 'ERR_FLUENT_IO')
  await r.close()
  await r.close()
})

test('an EventTime inside a record comes back as an EventTime (emitRaw with ext 0)', async (t) => {
  const r = await FluentReceiver.listen()
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const client = new FluentClient({ port: r.port })
  client.emitRaw('raw', Buffer.from([0x81, 0xa1, 0x74, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2]), 7)
  await client.close()
  await r.waitFor(1, 10_000)
  t.deepEqual(got, [{ tag: 'raw', time: new EventTime(7, 0), record: { t: new EventTime(1, 2) } }])
  await r.close()
})

test('a listening receiver keeps the process alive unless unref()ed, and is never collected while listening', async (t) => {
  const { spawn } = await import('node:child_process')
  const entry = JSON.stringify(new URL('../index.js', import.meta.url).pathname)
  const runChild = (code: string, killAfterMs: number) =>
    new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--expose-gc', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      const timer = setTimeout(() => child.kill('SIGTERM'), killAfterMs)
      child.on('exit', (code, signal) => {
        clearTimeout(timer)
        resolve({ code, signal, out })
      })
    })
  const unrefd = await runChild(`require(${entry}).FluentReceiver.listen().then((r) => r.unref())`, 20_000)
  t.is(unrefd.code, 0)
  const kept = await runChild(`require(${entry}).FluentReceiver.listen().then(() => console.log('up'))`, 1500)
  t.is(kept.signal, 'SIGTERM')
  t.is(kept.out, 'up\n')
  // Dropped without close(): still there after a full GC, still acknowledging.
  const collected = await runChild(
    `const { FluentReceiver, FluentClient } = require(${entry});
     (async () => {
       let r = await FluentReceiver.listen(); const port = r.port; r.unref(); r = undefined
       for (let i = 0; i < 5; i++) { global.gc(); await new Promise((res) => setTimeout(res, 20)) }
       const c = new FluentClient({ port, requireAck: true }); c.emit('gc', { a: 1 })
       console.log(JSON.stringify(await c.close({ timeoutMs: 5000 })))
       process.exit(0)
     })()`,
    20_000,
  )
  t.is(collected.code, 0)
  t.deepEqual(JSON.parse(collected.out), { emitted: 1, refused: 0, sent: 1, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })  // Closed and dropped: collected (its event callback was released, so nothing roots it).
  const freed = await runChild(
    `const { FluentReceiver } = require(${entry});
     const done = new FinalizationRegistry(() => { console.log('collected'); process.exit(0) });
     (async () => {
       let r = await FluentReceiver.listen(); r.on('event', () => {}); done.register(r, 0); await r.close(); r = undefined
       for (let i = 0; i < 50; i++) { global.gc(); await new Promise((res) => setTimeout(res, 20)) }
       console.log('still alive'); process.exit(1)
     })()`,
    20_000,
  )
  t.is(freed.out, 'collected\n')
})

test('security: the right key (and user) delivers; a wrong key, password or our own hostname is refused', async (t) => {
  const r = await FluentReceiver.listen({ security: { sharedKey: 'k3y', users: [{ username: 'app', password: 'pw' }] } })
  t.teardown(() => r.close())
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const ok = new FluentClient({ port: r.port, requireAck: true, security: { sharedKey: 'k3y', username: 'app', password: 'pw' } })
  ok.emit('sec', { fine: 1 })
  t.is((await ok.close()).sent, 1)
  await r.waitFor(1, 10_000)
  t.deepEqual(got[0].record, { fine: 1 })
  const attempts: Array<[object, string]> = [
    [{ sharedKey: 'wrong', username: 'app', password: 'pw' }, 'ERR_FLUENT_AUTH_KEY'],
    [{ sharedKey: 'k3y', username: 'app', password: 'wrong' }, 'ERR_FLUENT_AUTH_USER'],
    [{ sharedKey: 'k3y', username: 'app', password: 'pw', clientHostname: 'fluent-native-receiver' }, 'ERR_FLUENT_AUTH_SERVER'],
  ]
  for (const [security, code] of attempts) {
    const c = new FluentClient({ port: r.port, security, reconnectInitialDelayMs: 20 } as never)
    const codes: string[] = []
    c.on('error', (e: FluentError) => codes.push(e.code))
    c.emit('sec', { refused: true })
    const report = await c.close({ timeoutMs: 500 })
    t.is(report.sent, 0, code)
    t.true(codes.includes(code), `${code} in ${codes.join(',')}`)
  }
  t.is(r.stats().events, 1)
  t.true(r.stats().errors >= 3)
  await t.throwsAsync(FluentReceiver.listen({ security: { sharedKey: 1 } as never }), { code: 'ERR_FLUENT_CONFIG' } as never)
})

test('security interop: @fluent-org/logger authenticates with a shared key and a user', async (t) => {
  const r = await FluentReceiver.listen({ security: { sharedKey: 'k', users: [{ username: 'u', password: 'p' }] } })
  t.teardown(() => r.close())
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const other = new OtherClient('other', {
    socket: { host: '127.0.0.1', port: r.port },
    security: { clientHostname: 'some-client', sharedKey: 'k', username: 'u', password: 'p' },
  })
  await other.emit('sec', { via: 'fluent-org' })
  await r.waitFor(1, 10_000)
  await other.disconnect()
  t.deepEqual(got.map((e) => e.record), [{ via: 'fluent-org' }])
})
