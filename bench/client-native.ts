/** fluent-native (this repo's build, or another checkout's with BENCH_BASELINE) as a contender. */
import type { Client } from './client.ts'
import { TAG } from './client.ts'
import type { Importer } from './importer.ts'

export async function nativeClient(imp: Importer, host: string, port: number, opts: object, from = '../index.js'): Promise<Client> {
  const { FluentClient } = await imp(from)
  const client = new FluentClient({ host, port, ...opts })
  let errors = 0
  let refused = 0
  const errorCodes = new Set<string>()
  client.on('error', (e: { code?: string }) => {
    errors++
    errorCodes.add(String(e?.code))
  })
  // fluent-native connects on the first emit (as fluent-logger does). `ready` makes that connect
  // before the timed phase, as @fluent-org/logger's contender awaits its connect(): without acks a
  // server's first plaintext connection is on probation for 500 ms after its first write (the client
  // waits to see whether a TLS server answers, src probation.rs), and a run shorter than that waited
  // for it at close, measuring the window instead of the client.
  // emit() answers synchronously whether the record fit in the buffer; a producer that must not lose
  // records keeps the refused ones and offers them again (this is the documented use of that answer).
  const backlog: object[] = []
  let waits = 0
  const retry = (): void => {
    let k = 0
    while (k < backlog.length && client.emit(TAG, backlog[k])) k++
    if (k > 0) backlog.splice(0, k)
  }
  const emit = (r: object): void => {
    if (backlog.length > 0) retry()
    if (backlog.length > 0 || !client.emit(TAG, r)) {
      if (backlog.length === 0) refused++
      backlog.push(r)
    }
  }
  const relieve = async (): Promise<void> => {
    while (backlog.length > 0) {
      retry()
      if (backlog.length > 0) {
        waits++
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
    }
  }
  return {
    emit,
    emitLast: emit,
    async ready() {
      client.emit(TAG, { warmup: true })
      await client.flush({ timeoutMs: 10_000 })
      return 1
    },
    relieve,
    retry,
    async finish() {
      await relieve()
      const report = await client.close({ timeoutMs: 60_000 })
      const s = client.stats()
      return {
        report,
        refused,
        backpressureWaits: waits,
        errors,
        errorCodes: [...errorCodes],
        batches: s.batchesSent,
        reconnects: s.reconnects,
        retries: s.retries,
      }
    },
    async close() {},
  }
}
