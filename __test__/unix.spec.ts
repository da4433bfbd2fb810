// The `path` option: records over a Unix socket (as Fluent Bit's in_forward `unix_path` offers).
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FluentServer } from '@fluent-org/logger'
import { FluentClient } from '../index.js'

test('records arrive over a Unix socket', async (t) => {
  if (process.platform === 'win32') {
    // The core has no Unix-socket transport on Windows: the attempt is reported, never thrown.
    const client = new FluentClient({ path: 'C:\\nowhere.sock', reconnectInitialDelayMs: 10 })
    const codes: string[] = []
    client.on('error', (e: { code: string }) => codes.push(e.code))
    client.emit('unix.test', { i: 0 })
    const report = await client.close({ timeoutMs: 300 })
    t.is(report.pending, 1)
    t.true(codes.includes('ERR_FLUENT_CONNECT'))
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'fluent-native-'))
  const path = join(dir, 'forward.sock')
  const server = new FluentServer({ listenOptions: { path } })
  const got: Array<Record<string, unknown>> = []
  server.on('entry', (_tag: string, _time: unknown, record: Record<string, unknown>) => got.push(record))
  await server.listen()
  const client = new FluentClient({ path, requireAck: true })
  for (let i = 0; i < 1000; i++) client.emit('unix.test', { i })
  const report = await client.close()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
  t.deepEqual(report, { emitted: 1000, refused: 0, sent: 1000, dropped: 0, pending: 0, rejected: 0, handled: 0, replayed: 0, spooled: 0 })
  t.deepEqual(
    got.map((r) => r.i),
    Array.from({ length: 1000 }, (_, i) => i),
  )
})
