/**
 * One service of bench/service.ts: a plain node:http server that answers every request with a small
 * JSON body and logs one access record per request through one contender. Plain JavaScript, no
 * loader: the `@oxc-node/core/register` hooks thread would add its own CPU to every process measured.
 *
 *   node bench/service-child.mjs <contender> <sinkPort>
 *
 * Only requests whose path starts with `/log` are logged; the others are the same service's
 * reference (bench/loadgen.ts alternates the two). Prints `READY <httpPort>` once it listens (and its logger is connected or ready). Stdin commands,
 * one answer line each: `count` -> `COUNT <records logged>`; `quit` -> exits (fluent-native's exit
 * drain runs). `FLUENT_NATIVE_DIR` loads fluent-native from another built tree (to compare builds in
 * one run); the default is this checkout.
 */
import http from 'node:http'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const root = resolve(process.env.FLUENT_NATIVE_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..'))
const [contender, sinkPortArg] = process.argv.slice(2)
const sinkPort = Number(sinkPortArg)
const TAG = 'svc.access'
const MSG = 'request completed'
const BODY = Buffer.from('{"ok":true,"items":[1,2,3]}')
const HEADERS = { 'content-type': 'application/json', 'content-length': BODY.length }

/** Bound once per service (a child logger's fields): who logs. */
const BOUND = { service: 'checkout-api', version: '1.4.2', env: 'production', host: 'ip-10-0-3-17', region: 'eu-west-1' }

/** What each request adds (pino-http-like): built fresh per request, from the request. */
function fields(req, n, t0) {
  return {
    reqId: n,
    req: {
      method: req.method,
      url: req.url,
      host: req.headers.host,
      ua: req.headers['user-agent'],
      remoteAddress: req.socket.remoteAddress,
      remotePort: req.socket.remotePort,
    },
    res: { statusCode: 200, contentLength: BODY.length },
    responseTime: performance.now() - t0,
  }
}

/** The same record whole, as an application without a logger builds it for `emit`. */
function whole(req, n, t0) {
  return {
    level: 'info',
    msg: MSG,
    service: BOUND.service,
    version: BOUND.version,
    env: BOUND.env,
    host: BOUND.host,
    region: BOUND.region,
    ...fields(req, n, t0),
  }
}

/**
 * fluent-native's logger or emit from the build in `dir`, sending to the sink. `trace`: the logger
 * with `traceContext`, in a service set up as one traced with OpenTelemetry is (the API with the
 * AsyncLocalStorage context manager registered) but with no span active: what the option costs a
 * request outside any span.
 */
function nativeLog(dir, how) {
  const { FluentClient } = require(join(dir, 'index.js'))
  const client = new FluentClient({ host: '127.0.0.1', port: sinkPort })
  client.on('error', (e) => process.stderr.write(`client error: ${e.code}: ${e.message}\n`))
  if (how === 'emit') return (req, n, t0) => client.emit(TAG, whole(req, n, t0))
  if (how === 'trace') {
    const { context } = require('@opentelemetry/api')
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  }
  const log = client.logger({ tag: TAG, traceContext: how === 'trace' }).child(BOUND)
  return (req, n, t0) => log.info(MSG, fields(req, n, t0))
}

/** pino through the `destination()` of the build in `dir`, sending to the sink. */
function pinoDestinationLog(dir) {
  const pino = require('pino')
  const log = pino({ base: null }, require(join(dir, 'src', 'pino.js')).destination({ port: sinkPort, tag: TAG })).child(BOUND)
  return (req, n, t0) => log.info(fields(req, n, t0), MSG)
}

async function makeLog() {
  switch (contender) {
    case 'ab-logger':
    case 'ab-emit': {
      // Two builds in one process: `/log` requests through this checkout's, the others through the
      // baseline's (FLUENT_NATIVE_BASELINE), so the paired phases compare the builds directly.
      const how = contender === 'ab-emit' ? 'emit' : 'logger'
      baseLog = nativeLog(resolve(process.env.FLUENT_NATIVE_BASELINE), how)
      return nativeLog(root, how)
    }
    case 'ab-pino-destination':
      baseLog = pinoDestinationLog(resolve(process.env.FLUENT_NATIVE_BASELINE))
      return pinoDestinationLog(root)
    case 'pino-destination':
      return pinoDestinationLog(root)
    case 'none':
      return () => {}
    case 'build': {
      // The record's fields built and kept (as a logger would hold them until it is done), nothing
      // logged: what every contender pays before its logger runs, allocation and collection included.
      const ring = new Array(64)
      return (req, n, t0) => {
        ring[n & 63] = fields(req, n, t0)
      }
    }
    // Floors in the service itself, each one piece of what a logger pays per request, paid where it
    // is paid: cold, between two requests' worth of node:http. A Node-API call of the handover's
    // shape (pushStaged for a client id that does not exist: argument checks, the registry lookup,
    // the answer) and the promise reaction that queued a handover at every microtask checkpoint (what
    // a handover per request costs; the stage now hands over on a timer, src/stage.ts); the record
    // encoded into the stage buffer by emit's encoder and never handed over.
    case 'floor-napi': {
      const { pushStaged } = require(join(root, 'binding.js'))
      const block = Buffer.alloc(64)
      return () => {
        pushStaged(0xffffffff, block, 0, 0)
      }
    }
    case 'floor-then': {
      const settled = Promise.resolve()
      const noop = () => {}
      return () => {
        void settled.then(noop)
      }
    }
    case 'floor-stringify': {
      // V8's own serializer, native code with fast paths for plain objects: the reference for what
      // writing the record out costs any logger on the main thread (the object cannot leave the
      // thread unserialized, and it may change once the call returns).
      let keep = ''
      return (req, n, t0) => {
        keep = JSON.stringify(whole(req, n, t0))
        if (keep.length === 0) throw new Error('unreachable: keeps the result alive')
      }
    }
    case 'floor-encode': {
      const { encodeRecord } = require(join(root, 'src', 'encoder.js'))
      return (req, n, t0) => {
        encodeRecord(whole(req, n, t0), 0, 1 << 20)
      }
    }
    case 'native-logger':
      return nativeLog(root, 'logger')
    case 'native-logger-trace':
      return nativeLog(root, 'trace')
    case 'native-emit':
      return nativeLog(root, 'emit')
    case 'pino-transport':
    case 'pino-devnull':
    case 'pino-noop': {
      const pino = require('pino')
      let stream
      if (contender === 'pino-devnull') stream = pino.destination({ dest: '/dev/null', sync: true })
      else if (contender === 'pino-noop') stream = { write: () => true }
      else {
        stream = pino.transport({ target: join(root, 'src', 'pino.js'), options: { port: sinkPort, tag: TAG } })
        await once(stream, 'ready')
      }
      const log = pino({ base: null }, stream).child(BOUND)
      return (req, n, t0) => log.info(fields(req, n, t0), MSG)
    }
    case 'org-forward': {
      const { FluentClient } = require('@fluent-org/logger')
      const client = new FluentClient('svc', { socket: { host: '127.0.0.1', port: sinkPort }, eventMode: 'Forward', disableAutoconnect: true })
      client.socketOn('error', (e) => process.stderr.write(`@fluent-org error: ${e?.message ?? e}\n`))
      await client.connect()
      // emit() returns a promise per record; the library catches it itself.
      return (req, n, t0) => {
        client.emit('access', whole(req, n, t0))
      }
    }
    default:
      throw new Error(`unknown contender ${contender}`)
  }
}

/** With `ab-*`: the baseline build's log function, for the plain requests. */
let baseLog
const log = await makeLog()
let logged = 0
const server = http.createServer((req, res) => {
  const t0 = performance.now()
  res.writeHead(200, HEADERS)
  res.end(BODY)
  // Only `/log...` requests are logged: the load generator alternates phases of both (loadgen.ts).
  if (req.url.charCodeAt(1) === 108) log(req, ++logged, t0)
  else if (baseLog !== undefined) baseLog(req, ++logged, t0)
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`))

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'count') process.stdout.write(`COUNT ${logged}\n`)
  else if (line === 'quit') process.exit(0)
})
