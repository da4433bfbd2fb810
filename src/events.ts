/**
 * The events a FluentClient emits, typed: `client.on('error', (err) => ...)` gets `err: FluentError`.
 * Declarations only (merged with the class in src/client.ts); nothing here runs.
 *
 * `emit(tag, record)` is the logging method, not EventEmitter's: a string tag always logs a record,
 * whatever the tag (`emit('error', new Error('db down'))` logs an Error record under the tag
 * `error`). The client dispatches these events to listeners itself, never through `emit`.
 */
import type { DeliveredBatch } from './batch.js'
import type { FluentError } from './errors.js'
import type { BreakerEvent } from './types.js'

/** The client's events and their listeners' arguments. */
export interface FluentClientEvents {
  /** Every FluentError the client reports (connection, delivery, refusals after close...). */
  error: (err: FluentError) => void
  /** Connected to `server` (`host:port` or the socket path). */
  connect: (server: string) => void
  /** The connection to `server` ended: `err` says why, undefined for a clean close. */
  disconnect: (err: FluentError | undefined, server: string) => void
  /** A server's circuit breaker opened, half-opened for a probe, or closed. */
  breaker: (event: BreakerEvent) => void
  /** A batch was delivered (computed only while someone listens). */
  delivered: (batch: DeliveredBatch) => void
  /** After records were refused for lack of room, the buffer is back at half its cap or below. */
  drain: () => void
  /** EventEmitter's own. */
  newListener: (event: string | symbol, listener: (...args: any[]) => void) => void
  /** EventEmitter's own. */
  removeListener: (event: string | symbol, listener: (...args: any[]) => void) => void
}

/** The name of a client event. */
export type FluentClientEvent = keyof FluentClientEvents

/** EventEmitter's listener methods, typed by the event map. */
export interface TypedListeners<Self> {
  /** Adds a listener. */
  on<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** Adds a listener called once. */
  once<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** Removes a listener. */
  off<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** Same as `on`. */
  addListener<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** Same as `off`. */
  removeListener<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** Adds a listener before the others. */
  prependListener<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** Adds a listener, called once, before the others. */
  prependOnceListener<E extends FluentClientEvent>(event: E, listener: FluentClientEvents[E]): Self
  /** The listeners of an event. */
  listeners<E extends FluentClientEvent>(event: E): Array<FluentClientEvents[E]>
  /** How many listeners an event has. */
  listenerCount<E extends FluentClientEvent>(event: E): number
  /** Removes every listener (of one event, or of all). */
  removeAllListeners(event?: FluentClientEvent): Self
}
