/** @fluent-org/logger as a contender: its default PackedForward, Forward, acks, gzip and TLS. */
import type { Client } from './client.ts'
import { TAG } from './client.ts'
import type { Importer } from './importer.ts'

export async function orgClient(
  imp: Importer,
  host: string,
  port: number,
  opts: object,
  socket: object = {},
): Promise<Client> {
  const { FluentClient } = await imp('@fluent-org/logger')
  const client = new FluentClient(null, { socket: { host, port, ...socket }, disableAutoconnect: true, ...opts })
  let errors = 0
  const errorCodes = new Set<string>()
  client.socketOn('error', (e: Error) => {
    errors++
    if (errorCodes.size < 5) errorCodes.add(String(e?.message ?? e))
  })
  await client.connect()
  // emit() returns a promise per event; the library attaches its own catch, so ignoring it is safe.
  const emit = (r: object): void => {
    client.emit(TAG, r)
  }
  return {
    emit,
    emitLast: emit,
    async finish() {
      await client.flush()
      await client.waitForPending()
      return { errors, errorCodes: [...errorCodes], sendQueueLength: client.sendQueueLength }
    },
    async close() {
      await client.disconnect()
    },
  }
}
