// `fluent-native receive` (the CLI over FluentReceiver) with what senders may legally send but a
// printer may not expect: every event is printed or said to be unprintable, and --count counts
// what was printed (REVIEW-0.2 B4). Also the limit flags reach the receiver.
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))

async function receiving(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'receive', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d) => (out.stdout += d))
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      out.stderr += d
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out.stderr)
      if (m) resolve(Number(m[1]))
    })
    child.on('exit', () => reject(new Error(out.stderr)))
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const exited = once(child, 'close').then(([code]) => {
    clearTimeout(timer)
    return code as number | null
  })
  return { port, out, exited, child }
}

async function send(port: number, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(bytes, () => resolve()))
    s.on('error', reject)
  })
}

/** Message mode `["t", time, {"n": n}]` with a uint64 time. */
function message(time: bigint, n: number): Buffer {
  const t = Buffer.alloc(9)
  t[0] = 0xcf
  t.writeBigUInt64BE(time, 1)
  return Buffer.concat([Buffer.from([0x93, 0xa1, 0x74]), t, Buffer.from([0x81, 0xa1, 0x6e, n])])
}

test('receive --pretty prints an event whose time no Date holds, and counts only what it printed (B4)', async (t) => {
  const { port, out, exited } = await receiving(['--pretty', '--count', '2'])
  await send(port, Buffer.concat([message(9_000_000_000_000n, 1), message(1_700_000_000n, 2)]))
  t.is(await exited, 0, out.stderr)
  t.regex(out.stdout, /^9000000000000\.000000000s t\n\{\n {2}"n": 1\n\}$/m)
  t.regex(out.stdout, /^2023-11-14T22:13:20\.000000000Z t\n\{\n {2}"n": 2\n\}$/m)
  t.regex(out.stderr, /2 events in/)
})

test('receive prints a line saying a record is unprintable (nested too deep for JSON) instead of losing it', async (t) => {
  const { port, out, exited } = await receiving(['--count', '2'])
  const deep = Buffer.concat([Buffer.from([0x93, 0xa1, 0x74, 0x05, 0x81, 0xa1, 0x64]), Buffer.alloc(100_000, 0x91), Buffer.from([0x01])])
  await send(port, Buffer.concat([deep, message(1_700_000_000n, 2)]))
  t.is(await exited, 0, out.stderr)
  const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l))
  t.is(lines.length, 2)
  t.is(lines[0].tag, 't')
  t.is(lines[0].time, 5)
  t.regex(lines[0].unprintable, /call stack/i)
  t.deepEqual(lines[1], { tag: 't', time: 1_700_000_000, record: { n: 2 } })
})

test('receive --max-request-bytes closes a connection sending more, and says so', async (t) => {
  const { port, out, exited, child } = await receiving(['-q', '--max-request-bytes', '2048', '--count', '1'])
  // bin16 of 4,000 bytes: over the limit from its header on.
  await send(port, Buffer.from([0x92, 0xa1, 0x74, 0xc5, 0x0f, 0xa0]))
  await send(port, message(1_700_000_000n, 1))
  t.is(await exited, 0, out.stderr)
  t.regex(out.stderr, /1 connection errors \(1 requests too large\)/)
  child.kill()
})

test('receive rejects a limit flag out of range', async (t) => {
  const child = spawn(process.execPath, [BIN, 'receive', '--max-connections', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const [code] = await once(child, 'close')
  t.not(code, 0)
  t.regex(stderr, /--max-connections must be an integer in 1\.\./)
})

test('receive on a port already in use names the address, says EADDRINUSE and suggests --port 0, with no Rust text (REVIEW-0.2 A7)', async (t) => {
  const { FluentReceiver } = await import('../src/receiver.js')
  const taken = await FluentReceiver.listen()
  t.teardown(() => taken.close())
  const child = spawn(process.execPath, [BIN, 'receive', '--port', String(taken.port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code] = await once(child, 'close')
  clearTimeout(timer)
  t.not(code, 0)
  t.regex(stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken.port}: address already in use \\(EADDRINUSE\\)`))
  t.regex(stderr, /--port 0 picks a free one/)
  t.notRegex(stderr, /Tcp \{|os error|Kind\(/)
})
