// Process lifetime: an idle client never holds the process open, and process.exit() still delivers.
import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Receiver, deadPort } from './helpers.ts'

const indexPath = fileURLToPath(new URL('../index.js', import.meta.url))

function runChild(code: string, timeoutMs = 20_000): Promise<{ status: number | null; ms: number; stderr: string }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, ms: Date.now() - started, stderr })
    })
  })
}

test('a child process with an idle client exits by itself', async (t) => {
  const port = await deadPort()
  const r = await runChild(`
    const { FluentClient } = require(${JSON.stringify(indexPath)})
    const c = new FluentClient({ port: ${port} })
    c.on('error', () => {})
    globalThis.keep = c
  `)
  t.is(r.status, 0, r.stderr)
})

test('a child that emitted records and is otherwise idle exits once they are delivered', async (t) => {
  const server = await Receiver.start()
  const r = await runChild(`
    const { FluentClient } = require(${JSON.stringify(indexPath)})
    const c = new FluentClient({ port: ${server.port} })
    for (let i = 0; i < 1000; i++) c.emit('idle.exit', { i })
  `)
  t.is(r.status, 0, r.stderr)
  t.true(await server.waitFor(1000, 5000))
  await server.close()
  t.is(server.entries.length, 1000)
})

test('a child that emits 50,000 records and calls process.exit() delivers all of them', async (t) => {
  const server = await Receiver.start()
  const r = await runChild(`
    const { FluentClient } = require(${JSON.stringify(indexPath)})
    const c = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 10000 })
    for (let i = 0; i < 50000; i++) c.emit('exit.test', { i, msg: 'hello world' })
    process.exit(3)
  `)
  t.is(r.status, 3, r.stderr)
  t.true(await server.waitFor(50_000, 10_000), `got ${server.entries.length}`)
  await server.close()
  t.is(new Set(server.entries.map((e) => e.record.i)).size, 50_000)
})

test('process.exit with the server down waits at most exitFlushTimeoutMs', async (t) => {
  const port = await deadPort()
  const r = await runChild(`
    const { FluentClient } = require(${JSON.stringify(indexPath)})
    const c = new FluentClient({ port: ${port}, exitFlushTimeoutMs: 500 })
    c.on('error', () => {})
    for (let i = 0; i < 1000; i++) c.emit('exit.down', { i })
    process.exit(0)
  `)
  t.is(r.status, 0, r.stderr)
  // Generous bound: node startup plus the 500 ms deadline, on a loaded 2-core machine.
  t.true(r.ms < 10_000)
})

test('close() without await, then process.exit(): the exit hook still waits for the drain', async (t) => {
  const server = await Receiver.start()
  const r = await runChild(`
    const { FluentClient } = require(${JSON.stringify(indexPath)})
    const c = new FluentClient({ port: ${server.port}, exitFlushTimeoutMs: 10000 })
    for (let i = 0; i < 20000; i++) c.emit('exit.close', { i })
    c.close()
    process.exit(0)
  `)
  t.is(r.status, 0, r.stderr)
  t.true(await server.waitFor(20_000, 10_000), `got ${server.entries.length}`)
  await server.close()
  t.is(server.entries.length, 20_000)
})
