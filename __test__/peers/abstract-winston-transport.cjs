// The peer suite winston's own transports pass (abstract-winston-transport, mocha), run against
// FluentTransport with a real Forward server on loopback. Run by __test__/winston-peers.spec.ts.
const { FluentServer } = require('@fluent-org/logger')
const abstractTransport = require('abstract-winston-transport')
const { FluentTransport } = require('../../src/winston.js')

let server
const made = []

/** FluentTransport that remembers its instances, so every client is closed after the suite. */
class FluentTransportUnderTest extends FluentTransport {
  constructor(options) {
    super(options)
    made.push(this)
  }
}

before(async () => {
  server = new FluentServer({ listenOptions: { port: 0, host: '127.0.0.1' } })
  await server.listen()
})

after(async () => {
  await Promise.all(made.map((t) => t.client.close({ timeoutMs: 2000 })))
  await server.close()
})

abstractTransport({
  name: 'FluentTransport',
  Transport: FluentTransportUnderTest,
  construct: () => ({ port: server.port, tag: 'peer' }),
})
