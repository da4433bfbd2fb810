// FluentReceiver (the addon path) against hostile clients: a gzip bomb, declared lengths, slowloris,
// many idle connections, garbage, half-open TLS handshakes (REVIEW-0.2 B1/B2, issue 26). In each,
// the receiver's accounted memory stays within the bound of docs/receiver.md, the process survives, and a
// well-behaved client (our FluentClient, on its own connection) keeps getting events delivered.
// Serial, so the RSS each case logs is its own.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { gzipSync } from 'node:zlib'
import { FluentClient, FluentReceiver } from '../index.js'
import type { FluentReceiverOptions, FluentReceiverStats } from '../index.js'

const MiB = 1024 * 1024
/** Batches the addon lets wait for the JS thread (BATCH_QUEUE in crates/fluent-forward-napi/src/receiver.rs). */
const QUEUE = 4

/** docs/receiver.md "Receiver limits": the most the accounted buffers can hold. */
function bound(o: { maxRequestBytes?: number; maxInflatedBytes?: number; maxConnections?: number; threads?: number }): number {
  const r = o.maxRequestBytes ?? 6_144_000
  const i = o.maxInflatedBytes ?? 24_576_000
  const c = o.maxConnections ?? 1024
  const t = o.threads ?? 1
  // The zstd decoder's window: the power of two at or above the inflate limit (at most 2^27).
  const w = 2 ** Math.min(27, Math.max(10, Math.ceil(Math.log2(i))))
  return c * (r + 4096) + t * (i + 1 + w) + (t + QUEUE) * (2 * Math.max(MiB, r + i) + 131072)
}

async function until(r: FluentReceiver, what: string, done: (s: FluentReceiverStats) => boolean, timeoutMs = 20_000): Promise<FluentReceiverStats> {
  const end = Date.now() + timeoutMs
  for (;;) {
    // A fresh read once done: counters a connection adds before it closes are all in it by now.
    if (done(r.stats())) return r.stats()
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(r.stats())}`)
    await new Promise((res) => setTimeout(res, 10))
  }
}

/** Our client on its own connection, one event every 20 ms; `served(n)` waits for n more to arrive. */
function goodClient(r: FluentReceiver, tls?: { ca: string }) {
  let arrived = 0
  r.on('event', (ev) => {
    if (ev.tag === 'good') arrived++
  })
  const client = new FluentClient({ port: r.port, requireAck: true, tls: tls === undefined ? undefined : { ca: tls.ca, servername: 'localhost' } })
  const timer = setInterval(() => client.emit('good', { n: arrived }), 20)
  return {
    async served(n: number) {
      const want = arrived + n
      const end = Date.now() + 20_000
      while (arrived < want) {
        if (Date.now() > end) throw new Error(`the well-behaved client was not served (${arrived}/${want})`)
        await new Promise((res) => setTimeout(res, 10))
      }
    },
    async close() {
      clearInterval(timer)
      await client.close({ timeoutMs: 10_000 })
    },
  }
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
    s.on('error', reject)
  })
}

/** CompressedPackedForward of `n` 3-byte entries `[1, {}]`: the most events per inflated byte. */
function bomb(n: number): Buffer {
  const gz = gzipSync(Buffer.alloc(3 * n).fill(Buffer.from([0x92, 0x01, 0x80])), { level: 9 })
  const head = Buffer.from([0x93, 0xa1, 0x62, 0xc6, 0, 0, 0, 0])
  head.writeUInt32BE(gz.length, 4)
  const opts = Buffer.concat([Buffer.from([0x81, 0xaa]), Buffer.from('compressed'), Buffer.from([0xa4]), Buffer.from('gzip')])
  return Buffer.concat([head, gz, opts])
}

/**
 * A zstd frame of `bytes` zeros (a multiple of 128 KiB) written by hand, as Node 20 has no zstd:
 * RLE blocks of 128 KiB, 4 bytes each, under a 1 MiB window and no declared content size
 * (RFC 8878 §3.1.1), so only the output bound can stop it.
 */
function zstdBomb(bytes: number): Buffer {
  const block = 128 * 1024
  const n = bytes / block
  const frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, (20 - 10) << 3]
  for (let i = 0; i < n; i++) {
    // Block header, 3 bytes little-endian: size << 3 | RLE (1) << 1 | last; then the byte to repeat.
    const h = (block << 3) | (1 << 1) | (i === n - 1 ? 1 : 0)
    frame.push(h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff, 0x00)
  }
  const z = Buffer.from(frame)
  const head = Buffer.from([0x93, 0xa1, 0x62, 0xc6, 0, 0, 0, 0])
  head.writeUInt32BE(z.length, 4)
  const opts = Buffer.concat([Buffer.from([0x81, 0xaa]), Buffer.from('compressed'), Buffer.from([0xa4]), Buffer.from('zstd')])
  return Buffer.concat([head, z, opts])
}

function report(t: { log: (...a: unknown[]) => void }, name: string, s: FluentReceiverStats, b: number, rss0: number) {
  const rss = process.memoryUsage().rss
  t.log(`${name}: accounted peak ${s.memoryPeakBytes} bytes (bound ${b}); RSS ${Math.round(rss0 / MiB)} -> ${Math.round(rss / MiB)} MiB`)
}

test.serial('gzip bomb (B1): about 64 KiB that inflate to 63 MiB are refused with the defaults', async (t) => {
  const rss0 = process.memoryUsage().rss
  const r = await FluentReceiver.listen()
  let fromBomb = 0
  r.on('event', (ev) => {
    if (ev.tag === 'b') fromBomb++
  })
  const good = goodClient(r)
  await good.served(1)
  const s1 = await open(r.port!)
  s1.on('error', () => {})
  s1.end(bomb(22 * MiB))
  const s = await until(r, 'the bomb refused', (s) => s.errors === 1)
  await good.served(3)
  await good.close()
  t.is(fromBomb, 0)
  t.is(s.tooLarge, 1)
  const grown = process.memoryUsage().rss - rss0
  t.true(grown < 200 * MiB, `RSS grew ${Math.round(grown / MiB)} MiB`)
  report(t, 'gzip bomb (defaults)', r.stats(), bound({}), rss0)
  t.true(r.stats().memoryPeakBytes <= bound({}))
  await r.close()
})

test.serial('zstd bomb: 2 KiB of RLE blocks that inflate to 63 MiB are refused with the defaults', async (t) => {
  const rss0 = process.memoryUsage().rss
  const r = await FluentReceiver.listen()
  let fromBomb = 0
  r.on('event', (ev) => {
    if (ev.tag === 'b') fromBomb++
  })
  const good = goodClient(r)
  await good.served(1)
  const s1 = await open(r.port!)
  s1.on('error', () => {})
  s1.end(zstdBomb(63 * MiB))
  const s = await until(r, 'the bomb refused', (s) => s.errors === 1)
  await good.served(3)
  await good.close()
  t.is(fromBomb, 0)
  t.is(s.tooLarge, 1)
  const grown = process.memoryUsage().rss - rss0
  t.true(grown < 200 * MiB, `RSS grew ${Math.round(grown / MiB)} MiB`)
  report(t, 'zstd bomb (defaults)', r.stats(), bound({}), rss0)
  t.true(r.stats().memoryPeakBytes <= bound({}))
  await r.close()
})

test.serial('gzip bomb: three requests just under maxInflatedBytes in one write arrive whole, in bounded batches', async (t) => {
  const options: FluentReceiverOptions = { maxInflatedBytes: 2 * MiB }
  const rss0 = process.memoryUsage().rss
  const r = await FluentReceiver.listen(options)
  let events = 0
  r.on('event', () => events++)
  const good = goodClient(r)
  await good.served(1)
  // 2.1 M events of 3 bytes, every one delivered while the well-behaved client is served.
  const n = Math.floor((2 * MiB) / 3) - 1
  const s2 = await open(r.port!)
  s2.end(Buffer.concat([bomb(n), bomb(n), bomb(n)]))
  const before = events
  await until(r, '3 requests of events', () => events - before >= 3 * n, 60_000)
  await good.served(3)
  await good.close()
  // The good client's last batch may be counted by the listener a moment before stats() shows it
  // (seen once in a CI run under Node 24: 2097155 against 2097156); they must agree once quiet.
  await until(r, 'stats() to agree with the listener', () => r.stats().events === events, 10_000)
  const s = r.stats()
  t.is(s.tooLarge + s.errors, 0)
  t.is(s.events, events)
  const b = bound({ ...options })
  report(t, 'gzip bomb (3 x 2 MiB inflated)', s, b, rss0)
  t.true(s.memoryPeakBytes <= b)
  await r.close()
})

test.serial('declared lengths: 8 bytes per connection reserve nothing; a length over the limit closes at once', async (t) => {
  const rss0 = process.memoryUsage().rss
  const r = await FluentReceiver.listen()
  const good = goodClient(r)
  await good.served(1)
  // REVIEW-0.2 B2: a bin32 header declaring 6,000,000 bytes (under maxRequestBytes), 16 times.
  const header = Buffer.from([0x92, 0xa1, 0x74, 0xc6, 0x00, 0x5b, 0x8d, 0x80])
  const socks: Socket[] = []
  for (let i = 0; i < 16; i++) {
    const s = await open(r.port!)
    s.write(header)
    socks.push(s)
  }
  const s = await until(r, '16 headers received', (s) => s.bytes >= 16 * 8 && s.connections >= 17)
  // The receiver makes room for the next read right after counting these bytes: give it time.
  await good.served(3)
  // Before the fix each header made the receiver zero-fill 16 MiB: +256 MiB here.
  const grown = process.memoryUsage().rss - rss0
  t.true(grown < 100 * MiB, `RSS grew ${Math.round(grown / MiB)} MiB`)
  t.true(s.memoryBytes <= 17 * 4096 + MiB, `holding ${s.memoryBytes} bytes`)
  // Declaring 60 MiB (over the default 6,144,000): closed from the header, counted.
  const big = await open(r.port!)
  big.write(Buffer.from([0x92, 0xa1, 0x74, 0xc6, 0x03, 0xc0, 0x00, 0x00]))
  await until(r, 'the oversized request refused', (s) => s.tooLarge === 1)
  await good.served(3)
  for (const s of [...socks, big]) s.destroy()
  await good.close()
  report(t, 'declared lengths', r.stats(), bound({}), rss0)
  t.true(r.stats().memoryPeakBytes <= bound({}))
  await r.close()
})

test.serial('slowloris: a request at a byte a second is cut off by requestTimeoutMs', async (t) => {
  const rss0 = process.memoryUsage().rss
  const options = { requestTimeoutMs: 1500 }
  const r = await FluentReceiver.listen(options)
  const good = goodClient(r)
  await good.served(1)
  const req = Buffer.from([0x93, 0xa1, 0x74, 0x01, 0x81, 0xa1, 0x61, 0x01])
  const socks = await Promise.all(Array.from({ length: 5 }, () => open(r.port!)))
  socks.forEach((s) => s.on('error', () => {}))
  let i = 0
  const drip = setInterval(() => {
    for (const s of socks) if (!s.destroyed) s.write(req.subarray(i, i + 1))
    i = (i + 1) % req.length
  }, 1000)
  const s = await until(r, 'the slow requests cut off', (s) => s.timeouts >= 5 && s.openConnections === 1)
  clearInterval(drip)
  t.is(s.openConnections, 1, "only the well-behaved client's connection is left")
  await good.served(3)
  await good.close()
  report(t, 'slowloris', r.stats(), bound(options), rss0)
  t.true(r.stats().memoryPeakBytes <= bound(options))
  await r.close()
})

test.serial('2,000 idle connections: maxConnections holds, the rest are refused, the busy client is served', async (t) => {
  const rss0 = process.memoryUsage().rss
  const options = { maxConnections: 1000 }
  const r = await FluentReceiver.listen(options)
  const good = goodClient(r)
  await good.served(1)
  const socks: Socket[] = []
  for (let wave = 0; wave < 8; wave++) {
    socks.push(...(await Promise.all(Array.from({ length: 250 }, () => open(r.port!)))))
    await until(r, 'the wave accepted or refused', (s) => s.connections >= socks.length + 1)
  }
  socks.forEach((s) => s.on('error', () => {}))
  const s = r.stats()
  t.is(s.openConnections, 1000)
  t.is(s.refused, 2001 - 1000)
  await good.served(5)
  for (const s of socks) s.destroy()
  await until(r, 'the idle peers gone', (s) => s.openConnections === 1)
  await good.served(2)
  await good.close()
  report(t, '2,000 idle connections', r.stats(), bound(options), rss0)
  t.true(r.stats().memoryPeakBytes <= bound(options))
  await r.close()
})

test.serial('random garbage closes those connections only; the process and the well-behaved client go on', async (t) => {
  const rss0 = process.memoryUsage().rss
  const options = { requestTimeoutMs: 1500 }
  const r = await FluentReceiver.listen(options)
  const good = goodClient(r)
  await good.served(1)
  let x = 0x2545f491
  for (let i = 0; i < 50; i++) {
    const junk = Buffer.alloc(4096)
    for (let j = 0; j < junk.length; j++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      junk[j] = x & 0xff
    }
    if (i % 2 === 0) junk.set([0x93, 0xa1, 0x74])
    const s = await open(r.port!)
    s.on('error', () => {})
    s.end(junk)
  }
  const s = await until(r, 'the garbage connections closed', (s) => s.connections === 51 && s.openConnections === 1)
  t.true(s.errors >= 50)
  await good.served(3)
  await good.close()
  report(t, 'random garbage', r.stats(), bound(options), rss0)
  t.true(r.stats().memoryPeakBytes <= bound(options))
  await r.close()
})

test.serial('half-open TLS handshakes are dropped after handshakeTimeoutMs; a TLS client is served meanwhile', async (t) => {
  const rss0 = process.memoryUsage().rss
  const dir = new URL('./fixtures/tls/', import.meta.url)
  const options = {
    handshakeTimeoutMs: 1000,
    tls: { cert: readFileSync(new URL('server.pem', dir)), key: readFileSync(new URL('server.key', dir)) },
  }
  const r = await FluentReceiver.listen(options)
  const good = goodClient(r, { ca: readFileSync(new URL('ca.pem', dir), 'utf8') })
  await good.served(1)
  const socks: Socket[] = []
  for (let i = 0; i < 50; i++) {
    const s = await open(r.port!)
    s.on('error', () => {})
    if (i % 2 === 0) s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
    socks.push(s)
  }
  const s = await until(r, 'the handshake timeout', (s) => s.timeouts >= 50 && s.openConnections === 1)
  t.is(s.errors, 50)
  await good.served(3)
  for (const s of socks) s.destroy()
  await good.close()
  report(t, 'half-open TLS', r.stats(), bound(options), rss0)
  t.true(r.stats().memoryPeakBytes <= bound(options))
  await r.close()
})
