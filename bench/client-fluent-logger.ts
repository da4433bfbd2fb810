/** fluent-logger 3 as a contender: its default Message mode, PackedForward, acks and gzip. */
import type { Client } from './client.ts'
import { TAG } from './client.ts'
import type { Importer } from './importer.ts'

export async function flClient(imp: Importer, host: string, port: number, opts: object): Promise<Client> {
  const mod = await imp('fluent-logger')
  const logger = mod.default ?? mod
  const quiet = { info() {}, error() {}, warn() {}, debug() {} }
  const sender = logger.createFluentSender(null, { host, port, internalLogger: quiet, ...opts })
  let errors = 0
  const errorCodes = new Set<string>()
  sender.on('error', (e: Error) => {
    errors++
    if (errorCodes.size < 5) errorCodes.add(String(e?.message ?? e))
  })
  let done: Promise<void> | undefined
  return {
    emit(r) {
      sender.emit(TAG, r)
    },
    // fluent-logger reports completion per event through a callback; the last event's callback fires
    // once everything before it is written (or acknowledged), since its queue is sent in order.
    emitLast(r) {
      done = new Promise((resolve, reject) => {
        sender.emit(TAG, r, (err?: Error) => (err ? reject(err) : resolve()))
      })
    },
    async finish() {
      await done
      return { errors, errorCodes: [...errorCodes] }
    },
    async close() {
      await new Promise<void>((resolve) => sender.end(null, null, () => resolve()))
    },
  }
}
