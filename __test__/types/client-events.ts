// Type test, compiled by __test__/types.spec.ts against the declarations as published: what the
// published declarations accept and refuse. Every `@ts-expect-error` line must be an error, so a
// looser declaration (an `emit(event, ...args)` overload, `any` listeners) fails the compile.
import { FluentClient, FluentError } from 'fluent-native'
import type { BreakerEvent, DeliveredBatch } from 'fluent-native'

const client = new FluentClient({ port: 24224 })

// Listeners get their event's types.
client.on('error', (err) => {
  const e: FluentError = err
  const code: string = err.code
  void [e, code]
})
client.on('connect', (server) => server.toUpperCase())
client.once('disconnect', (err, server) => {
  const e: FluentError | undefined = err
  void [e, server.length]
})
client.on('breaker', (event) => {
  const state: BreakerEvent['state'] = event.state
  void [state, event.server.length]
})
client.on('delivered', (batch) => {
  const b: DeliveredBatch = batch
  void b
})
client.on('drain', () => {})
client.off('error', () => {})
const chained: FluentClient = client.on('error', () => {}).on('connect', () => {})
void chained

// emit is the logging method: a tag and a record (an object), optionally a time.
client.emit('app', { a: 1 })
client.emit('error', new Error('an Error record under the tag "error"'))
client.emit('app', { a: 1 }, Date.now())

// @ts-expect-error a string is not a record (no EventEmitter emit(event, ...args) overload)
client.emit('app', 'a string')
// @ts-expect-error a tag is a string
client.emit(Symbol('event'), { a: 1 })
// @ts-expect-error emit takes at most a tag, a record and a time
client.emit('app', { a: 1 }, 0, 'extra')
// @ts-expect-error the error listener's argument is a FluentError, not a string
client.on('error', (err: string) => err)
// @ts-expect-error connect passes the server as a string
client.on('connect', (server: number) => server)
// @ts-expect-error no such event
client.on('eror', () => {})
