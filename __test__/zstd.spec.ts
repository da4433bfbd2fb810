// compress: 'zstd': CompressedPackedForward with `compressed: 'zstd'` (PROTOCOL.md §4), through the
// bundled FluentReceiver with and without acks, and its form on the wire. @fluent-org/logger's
// FluentServer cannot be the peer here: it takes any `compressed` other than "gzip" for plain
// PackedForward and reads the zstd frame as entries. Node 20 has no zstd decoder, so the frame itself
// is checked against the `zstd` crate's decoder on the Rust side (crates/fluent-forward/tests/writer/modes.rs).
import test from 'ava'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { Unpackr } from 'msgpackr'
import { EventTime, FluentClient, FluentReceiver } from '../index.js'
import type { FluentClientOptions, FluentError, ReceivedEvent } from '../index.js'

const record = {
  s: 'unicode ✓ 日本語',
  n: 42,
  neg: -7,
  f: 1.5,
  big: 2n ** 60n,
  b: true,
  nil: null,
  arr: [1, 'two', { three: 3 }],
  bin: Buffer.from([0, 1, 255]),
}
/** Log-like and large: several batches, each frame many times smaller than its entries. */
const line = (i: number) => ({ i, msg: `GET /api/v1/items/${i % 97} 200 ${i % 13} ms`, pad: 'x'.repeat(i % 5000) })

for (const requireAck of [false, true]) {
  for (const compressionLevel of [undefined, 1, 19]) {
    const name = `zstd${compressionLevel === undefined ? '' : ` level ${compressionLevel}`}${requireAck ? ' with acks' : ''}`
    test(`${name}: every record arrives value for value through FluentReceiver`, async (t) => {
      const r = await FluentReceiver.listen()
      t.teardown(() => r.close()) // a failed assertion must not leave the receiver holding the process
      const got: ReceivedEvent[] = []
      r.on('event', (ev) => got.push(ev))
      const client = new FluentClient({ port: r.port, compress: 'zstd', compressionLevel, requireAck, batchBytes: 64 << 10 })
      client.emit('z.one', record, new EventTime(1_700_000_001, 999_999_999))
      client.emitMany('z.many', Array.from({ length: 2000 }, (_, i) => line(i)), 1_700_000_002)
      t.deepEqual(await client.close(), { emitted: 2001, refused: 0, sent: 2001, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
      const s = await r.waitFor(2001, 20_000)
      t.is(s.events, 2001)
      t.is(s.invalid + s.errors + s.sizeMismatch + s.tooLarge, 0)
      t.is(requireAck ? s.acks >= 2 : s.acks === 0, true, `acks ${s.acks}`)
      // Batches are per tag: the two tags may arrive in either order, each in its own order.
      const one = got.filter((e) => e.tag === 'z.one')
      const many = got.filter((e) => e.tag === 'z.many')
      t.is(one.length, 1)
      const { bin, ...rest } = one[0].record as typeof record
      const { bin: sentBin, ...sentRest } = record
      t.deepEqual(rest, sentRest)
      t.deepEqual(Buffer.from(bin as Uint8Array), sentBin)
      t.deepEqual(one[0].time, new EventTime(1_700_000_001, 999_999_999))
      t.deepEqual(
        many.map((e) => e.record),
        Array.from({ length: 2000 }, (_, i) => line(i)),
      )
      t.deepEqual(new Set(many.map((e) => String(e.time))), new Set([String(new EventTime(1_700_000_002, 0))]))
      await r.close()
    })
  }
}

/** Every byte a client sends until it closes its connection, for the wire form. */
async function capture(options: FluentClientOptions, send: (c: FluentClient) => void): Promise<Buffer> {
  const chunks: Buffer[] = []
  let open = 0
  let ended = 0
  const server = net.createServer((s) => {
    open++
    s.on('data', (d) => chunks.push(d))
    s.on('close', () => ended++)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const client = new FluentClient({ ...options, port })
  send(client)
  const report = await client.close({ timeoutMs: 10_000 })
  if (report.sent !== 3) throw new Error(`sent ${report.sent} of 3`)
  // The client has closed its connection, but this event loop may not even have accepted it yet:
  // wait for a connection and for the end of every one (all the client wrote comes before).
  const deadline = Date.now() + 10_000
  while (open === 0 || ended < open) {
    if (Date.now() > deadline) throw new Error(`connections: ${open} opened, ${ended} ended in 10 s`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await new Promise((resolve) => server.close(resolve))
  return Buffer.concat(chunks)
}

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'bigint' })
const three = (c: FluentClient) => {
  for (let i = 0; i < 3; i++) c.emit('wire', { i, msg: 'compressible '.repeat(20) }, new EventTime(1_700_000_000, i))
}

test('on the wire: [tag, bin(one zstd frame), {size, compressed: "zstd"}], the frame holding the plain entries', async (t) => {
  const plain = unpackr.unpackMultiple(await capture({}, three)) as Array<[string, Uint8Array]>
  const wire = await capture({ compress: 'zstd' }, three)
  const requests = unpackr.unpackMultiple(wire) as Array<[string, Uint8Array, Record<string, unknown>]>
  t.is(requests.length, 1)
  const [tag, blob, options] = requests[0]
  t.is(tag, 'wire')
  t.true(blob instanceof Uint8Array)
  t.deepEqual(options, { size: 3, compressed: 'zstd' })
  const frame = Buffer.from(blob)
  t.deepEqual([...frame.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'zstd magic')
  // Frame header descriptor (RFC 8878 §3.1.1.1.1): one frame with its content size, equal to the
  // plain PackedForward entries of the same records.
  const fhd = frame[4]
  const singleSegment = (fhd >> 5) & 1
  const fcsFlag = fhd >> 6
  t.true(fcsFlag > 0 || singleSegment === 1, 'the content size is declared')
  const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]
  let size = 0
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + frame[at + i]
  if (fcsBytes === 2) size += 256
  t.is(size, plain[0][1].length)
  t.true(frame.length < size, `${frame.length} < ${size}`)
  // And what was sent decodes, record for record, when replayed into the receiver.
  const r = await FluentReceiver.listen()
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const sock = net.connect(r.port, '127.0.0.1')
  sock.end(wire)
  await r.waitFor(3, 10_000)
  t.deepEqual(
    got.map((e) => e.record),
    [0, 1, 2].map((i) => ({ i, msg: 'compressible '.repeat(20) })),
  )
  sock.destroy()
  await r.close()
})

test('compress: "zstd" levels are 1-19, and need packedForward', (t) => {
  for (const opts of [
    { compress: 'zstd', compressionLevel: 0 },
    { compress: 'zstd', compressionLevel: 20 },
    { compress: 'gzip', compressionLevel: 10 },
    { compress: 'zstd', mode: 'forward' },
    { compress: 'lz4' },
  ]) {
    const err = t.throws(() => new FluentClient(opts as never), undefined, JSON.stringify(opts))
    t.is((err as FluentError).code, 'ERR_FLUENT_CONFIG', JSON.stringify(opts))
  }
  for (const compressionLevel of [1, 19]) {
    let c: FluentClient | undefined
    t.notThrows(() => {
      c = new FluentClient({ port: 1, compress: 'zstd', compressionLevel, exitFlushTimeoutMs: 0 })
    })
    void c?.close({ timeoutMs: 0 })
  }
})

const BIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))

/** Runs the CLI with `input` on stdin, killed after 60 s. */
async function cli(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  child.stdin.on('error', () => {})
  child.stdin.end(input)
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = await once(child, 'close')
  clearTimeout(timer)
  return { code, stdout, stderr }
}

test('cli: cat --zstd --compression-level 19 --ack delivers every line; bench --zstd reports it', async (t) => {
  const r = await FluentReceiver.listen()
  const got: ReceivedEvent[] = []
  r.on('event', (ev) => got.push(ev))
  const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify(line(i)))
  const cat = await cli(['cat', '--port', String(r.port), '--ack', '--zstd', '--compression-level', '19', '-q', 'cli.z'], lines.join('\n') + '\n')
  t.is(cat.code, 0, cat.stderr)
  await r.waitFor(300, 10_000)
  t.deepEqual(
    got.map((e) => e.record),
    Array.from({ length: 300 }, (_, i) => line(i)),
  )
  await r.close()
  const bench = await cli(['bench', '--zstd', '--records', '2000', '--json'])
  t.is(bench.code, 0, bench.stderr)
  const result = JSON.parse(bench.stdout) as { records: number; compress: string | false }
  t.is(result.records, 2000)
  t.is(result.compress, 'zstd')
})

test('cli: --zstd is in -h, a typo of it gets a "did you mean", and it excludes --gzip', async (t) => {
  for (const command of ['cat', 'bench']) {
    const help = await cli([command, '-h'])
    t.is(help.code, 0)
    t.regex(help.stdout, /--zstd/)
    t.regex(help.stdout, /--compression-level N/)
  }
  const typo = await cli(['cat', '--zsdt', 'x'])
  t.is(typo.code, 2)
  t.regex(typo.stderr, /unknown option --zsdt \(did you mean --zstd\?\)/)
  const both = await cli(['bench', '--gzip', '--zstd'])
  t.is(both.code, 2)
  t.regex(both.stderr, /--gzip and --zstd exclude each other/)
  const alone = await cli(['cat', '--compression-level', '3', 'x'])
  t.is(alone.code, 2)
  t.regex(alone.stderr, /--compression-level needs --gzip or --zstd/)
  // 0 is a level (gzip's), so the flag takes it; the client refuses it for zstd.
  const range = await cli(['cat', '--zstd', '--compression-level', '0', 'x'])
  t.is(range.code, 2)
  t.regex(range.stderr, /compressionLevel must be an integer in 1\.\.19 with compress: 'zstd', got 0/)
})
