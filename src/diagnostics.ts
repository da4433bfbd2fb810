/**
 * node:diagnostics_channel channels, for APMs and tracing without a listener on the client:
 *
 * - `fluent-native:client:connect`    `{ client, server }`
 * - `fluent-native:client:disconnect` `{ client, server, error }` (`error` undefined for a clean close)
 * - `fluent-native:client:error`      `{ client, error }` (every FluentError the client reports)
 * - `fluent-native:client:drop`       `{ client, code, records, tag }` (errors that lost records)
 * - `fluent-native:client:breaker`    `{ client, server, state }`
 *
 * Messages are published only while a channel has subscribers, so an unobserved client pays one
 * property read per event.
 */
import { channel } from 'node:diagnostics_channel'
import type { JsEvent } from '../binding.js'
import type { FluentError } from './errors.js'

export const channels = {
  connect: channel('fluent-native:client:connect'),
  disconnect: channel('fluent-native:client:disconnect'),
  error: channel('fluent-native:client:error'),
  drop: channel('fluent-native:client:drop'),
  breaker: channel('fluent-native:client:breaker'),
} as const

/**
 * A connection event from the writer, before the client's own listeners see it. (Errors are
 * published where the client reports them, `publishError`, so its own refusals are included.)
 */
export function publishEvent(client: object, server: string, ev: JsEvent, toError: (ev: JsEvent) => FluentError): void {
  if (ev.kind === 'connect') {
    if (channels.connect.hasSubscribers) channels.connect.publish({ client, server })
  } else if (ev.kind === 'disconnect') {
    if (channels.disconnect.hasSubscribers) channels.disconnect.publish({ client, server, error: ev.code ? toError(ev) : undefined })
  } else if (ev.kind === 'breaker') {
    if (channels.breaker.hasSubscribers) channels.breaker.publish({ client, server, state: ev.state })
  }
}

/** Every reported error; those that lost records also go to `:drop`. */
export function publishError(client: object, error: FluentError): void {
  if (channels.error.hasSubscribers) channels.error.publish({ client, error })
  if (error.records !== undefined && error.records > 0 && channels.drop.hasSubscribers) {
    channels.drop.publish({ client, code: error.code, records: error.records, tag: error.tag })
  }
}
