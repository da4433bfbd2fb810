// The best existing pino -> fluentd route, written the way @lukadriel/pino-fluent 0.2.0 does it: a
// pino-abstract-transport whose loop awaits @fluent-org/logger's emit() for each parsed record, and
// whose close flushes and disconnects. (Not a published package we can install: see ECOSYSTEM.md §1.1.)
import build from 'pino-abstract-transport'
import { FluentClient } from '@fluent-org/logger'

export default async function (opts) {
  const client = new FluentClient(opts.prefix ?? null, { socket: { host: opts.host, port: opts.port } })
  return build(
    async (source) => {
      for await (const obj of source) await client.emit(opts.tag, obj)
    },
    {
      async close() {
        await client.flush()
        await client.disconnect()
      },
    },
  )
}
