/**
 * The lean client, a reference: what plain JS can do, PackedForward with msgpackr, one write per
 * event-loop turn or per MiB. No acks, no reconnects, no buffer bound: a reference point, not a package.
 */
import { connect, type Socket } from 'node:net'

import type { Client } from './client.ts'
import { TAG } from './client.ts'
import type { Importer } from './importer.ts'

export async function leanClient(imp: Importer, host: string, port: number): Promise<Client> {
  const { Packr } = await imp('msgpackr')
  const packr = new Packr({ useRecords: false })
  const sock: Socket = connect({ host, port })
  sock.setNoDelay(true)
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject))
  const tag = packr.pack(TAG) as Buffer
  let parts: Buffer[] = []
  let bytes = 0
  let count = 0
  let scheduled = false
  let lastWrite: Promise<void> = Promise.resolve()
  const flush = (): void => {
    scheduled = false
    if (count === 0) return
    const head = Buffer.allocUnsafe(1 + tag.length + 5)
    head[0] = 0x93 // [tag, entries, options]
    tag.copy(head, 1)
    head[1 + tag.length] = 0xc6 // bin 32
    head.writeUInt32BE(bytes, 2 + tag.length)
    const chunk = Buffer.concat([head, ...parts, packr.pack({ size: count })])
    lastWrite = new Promise((resolve, reject) => sock.write(chunk, (e) => (e ? reject(e) : resolve())))
    parts = []
    bytes = 0
    count = 0
  }
  const emit = (r: object): void => {
    const entry = packr.pack([Math.floor(Date.now() / 1000), r]) as Buffer
    parts.push(entry)
    bytes += entry.length
    count++
    if (bytes >= 1 << 20) flush()
    else if (!scheduled) {
      scheduled = true
      setImmediate(flush)
    }
  }
  return {
    emit,
    emitLast: emit,
    async finish() {
      flush()
      await lastWrite
      return {}
    },
    async close() {
      await new Promise<void>((resolve) => sock.end(resolve))
    },
  }
}
