// The conformance script's harness: the runtime it runs on, exact comparisons, a real Forward
// server as the peer, children of the same runtime, and the runner that prints one line per check
// and holds each check to the documented differences (see conformance.mjs).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { FluentServer } from '@fluent-org/logger'

const here = new URL('.', import.meta.url)
export const runtime = globalThis.Deno !== undefined ? 'deno' : globalThis.Bun !== undefined ? 'bun' : 'node'
export const version = runtime === 'deno' ? globalThis.Deno.version.deno : runtime === 'bun' ? globalThis.Bun.version : process.versions.node

/** What a program using fluent-native needs under Deno (the addon is loaded with ffi; its sockets are native). */
const DENO_PERMISSIONS = ['--allow-ffi', '--allow-read', '--allow-env']

/** Every wait is bounded: a check that hangs fails after this long. */
const CHECK_TIMEOUT_MS = 30_000
export const quick = { flushIntervalMs: 5, reconnectInitialDelayMs: 20, reconnectMaxDelayMs: 200, connectTimeoutMs: 2000 }

export class CheckFailed extends Error {}

export function expect(cond, what) {
  if (!cond) throw new CheckFailed(what)
}

export function same(actual, expected, what) {
  const a = stable(actual)
  const e = stable(expected)
  if (a !== e) throw new CheckFailed(`${what}: got ${cut(a)}, expected ${cut(e)}`)
}

const cut = (s) => (s.length > 300 ? `${s.slice(0, 300)}...` : s)

/** JSON with bigint and bytes spelled out (Buffer and Uint8Array alike): for exact comparisons. */
function stable(v) {
  return JSON.stringify(plain(v), (_k, x) => (typeof x === 'bigint' ? `${x}n` : x))
}

function plain(v) {
  if (v instanceof Uint8Array) return `bin:${Buffer.from(v).toString('hex')}`
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  }
  return v
}

/** Polls `cond` until true or `ms` passed; returns whether it became true. */
export async function until(cond, ms = 20_000) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 10))
  }
  return true
}

/** A real Forward server (the one the ava suites use as the peer), collecting what arrives. */
export async function server() {
  const s = new FluentServer({ listenOptions: { port: 0, host: '127.0.0.1' } })
  const entries = []
  s.on('entry', (tag, time, record) => entries.push({ tag, time, record }))
  await s.listen()
  return {
    port: s.port,
    entries,
    async got(n, what) {
      const ok = await until(() => entries.length >= n)
      expect(ok, `${what}: ${entries.length} of ${n} records arrived`)
      // A moment more, so that extra (duplicated) records would be seen too.
      await new Promise((r) => setTimeout(r, 50))
      same(entries.length, n, `${what}: records arrived`)
    },
    close: () => s.close(),
  }
}

/** A loopback port nothing listens on (bound, then closed). */
export async function deadPort() {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  await new Promise((r) => srv.close(r))
  return port
}

/** Starts this runtime on `file` with `args`; resolves with its exit code and output. */
export function child(file, args, timeoutMs = 20_000) {
  const script = new URL(file, here).pathname
  // Under Deno, the child gets only the permissions docs/design.md ("Runtimes") says fluent-native needs.
  const argv = runtime === 'deno' ? ['run', ...DENO_PERMISSIONS, script, ...args] : [script, ...args]
  const p = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (d) => (out += d))
  p.stderr.on('data', (d) => (out += d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new CheckFailed(`${file} did not exit within ${timeoutMs} ms: ${out}`))
    }, timeoutMs)
    p.on('error', reject)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out })
    })
  })
}

/** Records with a bit of everything; `big` only for peers that decode int64 as bigint (FluentServer does not). */
export const records = (n, tag, big = false) =>
  Array.from({ length: n }, (_, i) => ({ tag, i, s: `é-${i} "q"\n`, f: i + 0.5, nested: { ok: true, list: [i, null] }, ...(big ? { big: 2n ** 60n + BigInt(i) } : {}) }))


/** Runs `checks` in order; a check listed in `differences` must fail there, matching its RegExp. Returns the failures. */
export async function run(checks, differences) {
  console.log(`fluent-native conformance under ${runtime} ${version}`)
  const expected = differences[runtime]
  let passed = 0
  let failed = 0
  // CONFORMANCE_ONLY=substring runs only the checks whose names contain it (for debugging one).
  const only = process.env.CONFORMANCE_ONLY
  for (const { name, fn } of checks) {
    if (only && !name.includes(only)) continue
    let error
    let timer
    try {
      await Promise.race([
        fn(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new CheckFailed(`timed out after ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)
        }),
      ])
    } catch (e) {
      error = e
    } finally {
      clearTimeout(timer)
    }
    const difference = expected[name]
    const message = error === undefined ? '' : `${error?.code ? `${error.code} ` : ''}${error?.message ?? String(error)}`
    if (difference === undefined && error === undefined) {
      passed++
      console.log(`pass  ${name}`)
    } else if (difference === undefined) {
      failed++
      console.log(`FAIL  ${name}: ${message}`)
    } else if (error === undefined) {
      failed++
      console.log(`FAIL  ${name}: works now on ${runtime}; remove it from DIFFERENCES and docs/design.md`)
    } else if (difference.test(message)) {
      passed++
      console.log(`pass  ${name}: the documented difference on ${runtime} (${message})`)
    } else {
      failed++
      console.log(`FAIL  ${name}: fails differently than documented (${difference}): ${message}`)
    }
  }
  console.log(`${runtime}: ${passed} passed, ${failed} failed`)
  return failed
}
