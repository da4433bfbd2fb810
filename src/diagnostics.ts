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

/** The client's `node:diagnostics_channel` channels (see the module comment for each message). */
export const channels = {
  /** `fluent-native:client:connect`: `{ client, server }`. */
  connect: channel('fluent-native:client:connect'),
  /** `fluent-native:client:disconnect`: `{ client, server, error }`. */
  disconnect: channel('fluent-native:client:disconnect'),
  /** `fluent-native:client:error`: `{ client, error }`, every FluentError the client reports. */
  error: channel('fluent-native:client:error'),
  /** `fluent-native:client:drop`: `{ client, code, records, tag }`, errors that lost records. */
  drop: channel('fluent-native:client:drop'),
  /** `fluent-native:client:breaker`: `{ client, server, state }`. */
  breaker: channel('fluent-native:client:breaker'),
} as const

/**
 * A connection event from the writer, before the client's own listeners see it. (Errors are
 * published where the client reports them, `publishError`, so its own refusals are included.)
 * @internal
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

/** @internal Every reported error; those that lost records also go to `:drop`. */
export function publishError(client: object, error: FluentError): void {
  if (channels.error.hasSubscribers) channels.error.publish({ client, error })
  if (error.records !== undefined && error.records > 0 && channels.drop.hasSubscribers) {
    channels.drop.publish({ client, code: error.code, records: error.records, tag: error.tag })
  }
}
