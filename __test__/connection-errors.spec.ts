// Connection errors say where and what (REVIEW-0.2 A7): every one carries the server (`err.address`,
// and in the message) and, where there is one, the errno-style cause Node users know
// (`err.cause.code`); no message shows Rust's Debug formatting or `(os error N)`; the TLS hint only
// where TLS is the likely cause. crates/fluent-forward/src/error.rs walks every variant's message.
import { once } from 'node:events'
import test from 'ava'
import { FluentClient, FluentError } from '../index.js'
import { Receiver, deadPort, quick, sleep, until } from './helpers.ts'

/** What no message may show (the same list as error.rs's `debug_leaks`). */
const LEAKS = ['Other(', 'Kind(', 'Os {', 'Custom {', '{ host:', 'os error', 'OtherError', 'Context {']

function leaks(t: import('ava').ExecutionContext, errors: FluentError[]): void {
  for (const e of errors) {
    for (const l of LEAKS) t.false(e.message.includes(l), `${e.code}: ${e.message}`)
  }
}

/** The first error of `code` the client reports within `ms`. */
async function firstError(client: FluentClient, code: string, ms = 10_000): Promise<{ err?: FluentError; all: FluentError[] }> {
  const all: FluentError[] = []
  client.on('error', (e: FluentError) => all.push(e))
  await until(() => all.some((e) => e.code === code), ms)
  return { err: all.find((e) => e.code === code), all }
}

test('a refused connect names the server and has cause ECONNREFUSED', async (t) => {
  const port = await deadPort()
  const client = new FluentClient({ port, ...quick })
  client.emit('where', { a: 1 })
  const { err, all } = await firstError(client, 'ERR_FLUENT_CONNECT')
  await client.close({ timeoutMs: 100 })
  t.truthy(err, all.map((e) => `${e.code}: ${e.message}`).join(' | '))
  t.is(err?.address, `127.0.0.1:${port}`)
  t.true(err?.message.includes(`127.0.0.1:${port}`), err?.message)
  t.is((err?.cause as { code?: string })?.code, 'ECONNREFUSED')
  t.false(err?.message.includes('set tls'), 'no TLS hint for a refused connect')
  leaks(t, all)
})

test('a host that does not resolve names itself and has cause ENOTFOUND', async (t) => {
  const client = new FluentClient({ host: 'no-such-host.invalid', port: 24224, ...quick })
  client.emit('where', { a: 1 })
  const { err, all } = await firstError(client, 'ERR_FLUENT_CONNECT')
  await client.close({ timeoutMs: 100 })
  t.truthy(err, all.map((e) => `${e.code}: ${e.message}`).join(' | '))
  t.is(err?.address, 'no-such-host.invalid:24224')
  t.regex(err?.message ?? '', /no-such-host\.invalid:24224/)
  t.is((err?.cause as { code?: string })?.code, 'ENOTFOUND')
  leaks(t, all)
})

test('a server that goes away after taking records: the disconnect names it, with no TLS hint', async (t) => {
  const port = await deadPort()
  const server = await Receiver.start(port)
  const client = new FluentClient({ port, ...quick })
  const errors: FluentError[] = []
  const disconnects: FluentError[] = []
  client.on('error', (e: FluentError) => errors.push(e))
  client.on('disconnect', (e?: FluentError) => {
    if (e) disconnects.push(e)
  })
  const connected = once(client, 'connect')
  client.emit('where', { a: 1 })
  await connected
  await client.flush({ timeoutMs: 5000 })
  t.true(await server.waitFor(1))
  // An ordinary restart: the client's connection is closed under it.
  await server.restartAfter(200)
  await until(() => disconnects.length > 0, 5000)
  client.emit('where', { a: 2 })
  await client.flush({ timeoutMs: 5000 })
  await client.close()
  await server.close()
  t.true(disconnects.length > 0, 'the disconnect was reported')
  for (const e of [...disconnects, ...errors]) {
    t.is(e.address, `127.0.0.1:${port}`, `${e.code}: ${e.message}`)
    t.false(/tls/i.test(e.message), `no TLS hint after an ordinary restart: ${e.message}`)
  }
  leaks(t, [...disconnects, ...errors])
})

test("host: 'name:24224' is ERR_FLUENT_CONFIG that says to use port", (t) => {
  for (const host of ['localhost:24224', 'tcp://localhost:24224']) {
    const err = t.throws(() => new FluentClient({ host })) as FluentError
    t.is(err.code, 'ERR_FLUENT_CONFIG', host)
    t.regex(err.message, /port/, host)
  }
  const err = t.throws(() => new FluentClient({ servers: [{ host: 'a.example:24224' }] })) as FluentError
  t.is(err.code, 'ERR_FLUENT_CONFIG')
  t.regex(err.message, /a\.example.*port/)
})

test('errors carry their cause as Node socket errors do, and inspect without Rust internals', async (t) => {
  const port = await deadPort()
  const client = new FluentClient({ port, ...quick })
  client.emit('where', { a: 1 })
  const { err } = await firstError(client, 'ERR_FLUENT_CONNECT')
  await client.close({ timeoutMs: 100 })
  await sleep(10)
  t.true(err instanceof FluentError)
  const cause = err?.cause as Error & { code?: string; address?: string }
  t.true(cause instanceof Error)
  t.is(cause.address, `127.0.0.1:${port}`)
})
