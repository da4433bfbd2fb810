/**
 * Scripted Forward servers: plain `net` servers that decode Forward (every mode, gzip included)
 * with @msgpack/msgpack, store each record by its id, and ack correctly while healthy. A table of
 * faults, each a small object, says how the server misbehaves while it is in that fault; the
 * schedule switches faults on a timeline. New faults (the spool's disk-full, torn writes) are one
 * more entry in `FAULTS`.
 */
import { createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { gunzipSync } from 'node:zlib'
import { Decoder, decodeMulti, encode, ExtensionCodec } from '@msgpack/msgpack'

/** EventTime (ext 0) decodes to its 8 raw bytes, boxed: the check is about records, not times. */
class EventTimeBytes {
  constructor(readonly bytes: Uint8Array) {}
}
const codec = new ExtensionCodec()
codec.register({ type: 0, encode: () => null, decode: (data: Uint8Array) => new EventTimeBytes(data) })

export interface Received {
  tag: string
  record: Record<string, unknown>
}

/** How a connection in a fault treats what arrives. */
interface Fault {
  /** Not listening at all (connections refused): an outage, or the downtime of a restart. */
  down?: boolean
  /** Called for each new connection; return false to have it closed at once. */
  accept?: (sock: Socket) => boolean
  /** Read nothing (a stalled server: the client's writes fill the socket buffers). */
  stall?: boolean
  /** Read in small bursts with pauses. */
  slow?: boolean
  /** What to answer to a request carrying records (after storing them); `null`: nothing. */
  answer?: (chunk: string) => Uint8Array | null
  /** Drop the connection instead of storing a request that holds a poison record. */
  poison?: boolean
}

export const FAULTS = {
  healthy: {} as Fault,
  refuse: { down: true } as Fault,
  acceptClose: { accept: () => false } as Fault,
  stall: { stall: true } as Fault,
  slowRead: { slow: true } as Fault,
  neverAck: { answer: () => null } as Fault,
  wrongAck: { answer: (chunk: string) => encode({ ack: `${chunk}-not` }) } as Fault,
  garbage: { answer: () => Uint8Array.from([0xc1, 0xff, 0x00, 0x13, 0x37]) } as Fault,
  poison: { poison: true } as Fault,
} satisfies Record<string, Fault>

export type FaultName = keyof typeof FAULTS

export class ScriptedServer {
  /** Speaks the Forward handshake and refuses every client's PING (a wrong shared key). */
  readonly refuseAuth: boolean
  /** The loopback address it listens on (127.0.0.1, or its own one as a member of a DNS fleet). */
  readonly host: string
  readonly received: Received[] = []
  /** Requests whose records were stored. */
  requests = 0
  /** Requests that were not valid Forward (from a client that speaks it, a bug). */
  readonly malformed: string[] = []
  port = 0
  #fault: Fault = FAULTS.healthy
  #faultName: FaultName = 'healthy'
  #server: Server | undefined
  readonly #sockets = new Set<Socket>()

  constructor(options: { refuseAuth?: boolean; host?: string } = {}) {
    this.refuseAuth = options.refuseAuth === true
    this.host = options.host ?? '127.0.0.1'
  }

  /** Listens on `port` (0: any; the members of a DNS fleet share one port on their own addresses). */
  async start(port = 0): Promise<void> {
    await this.#listen(port)
  }

  get fault(): FaultName {
    return this.#faultName
  }

  /** Switches to `name`: going down closes the listener and every connection; coming up listens again. */
  async set(name: FaultName): Promise<void> {
    const next = FAULTS[name] as Fault
    const wasDown = this.#fault.down === true
    this.#fault = next
    this.#faultName = name
    if (next.down && !wasDown) await this.#stop()
    else if (!next.down && wasDown) await this.#listen(this.port)
    // A connection opened under another fault keeps its socket, but obeys the new fault from here.
    for (const s of this.#sockets) {
      if (next.stall) s.pause()
      else if (!next.slow) s.resume()
    }
  }

  async close(): Promise<void> {
    await this.#stop()
  }

  async #listen(port: number): Promise<void> {
    const server = createServer((sock) => this.#connection(sock))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.port = (server.address() as { port: number }).port
    this.#server = server
  }

  async #stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #connection(sock: Socket): void {
    sock.on('error', () => {})
    if (this.#fault.accept !== undefined && !this.#fault.accept(sock)) {
      sock.destroy()
      return
    }
    this.#sockets.add(sock)
    sock.on('close', () => this.#sockets.delete(sock))
    if (this.#fault.stall) sock.pause()
    if (this.refuseAuth) sock.write(encode(['HELO', { nonce: new Uint8Array(16).fill(7), auth: new Uint8Array(0), keepalive: true }]))
    let pending: Buffer = Buffer.alloc(0)
    let slowTimer: NodeJS.Timeout | undefined
    sock.on('data', (data: Buffer) => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data])
      const used = this.#consume(sock, pending)
      if (used < 0) return
      pending = pending.subarray(used)
      if (this.#fault.slow && slowTimer === undefined) {
        sock.pause()
        slowTimer = setTimeout(() => {
          slowTimer = undefined
          if (!this.#fault.stall && !sock.destroyed) sock.resume()
        }, 40)
      }
    })
    sock.on('close', () => clearTimeout(slowTimer))
  }

  /** Handles every complete message at the front of `buf`; returns the bytes used, -1 if the socket was ended. */
  #consume(sock: Socket, buf: Buffer): number {
    let used = 0
    while (used < buf.length) {
      const decoder = new Decoder({ extensionCodec: codec, useBigInt64: true })
      let msg: unknown
      let size: number
      try {
        msg = decoder.decode(buf.subarray(used, buf.length))
        size = buf.length - used
      } catch (e) {
        const extra = /Extra (\d+) of \d+ byte/.exec(String((e as Error).message))
        if (extra !== null) {
          size = buf.length - used - Number(extra[1])
          msg = new Decoder({ extensionCodec: codec, useBigInt64: true }).decode(buf.subarray(used, used + size))
        } else if (e instanceof RangeError) {
          return used // incomplete: wait for more
        } else {
          sock.destroy() // not msgpack (a TLS ClientHello from a client configured for TLS)
          return -1
        }
      }
      let ok: boolean
      try {
        ok = this.#request(sock, msg)
      } catch (e) {
        this.malformed.push(String(e))
        sock.destroy()
        ok = false
      }
      if (!ok) return -1
      used += size
    }
    return used
  }

  /** One Forward request: store its records and answer; false if the connection was ended. */
  #request(sock: Socket, msg: unknown): boolean {
    if (msg === null) return true // a TCP heartbeat (msgpack nil)
    if (this.refuseAuth && Array.isArray(msg) && msg[0] === 'PING') {
      sock.end(encode(['PONG', false, 'shared_key mismatch', '', '']))
      return false
    }
    if (!Array.isArray(msg) || typeof msg[0] !== 'string') {
      // A heartbeat or handshake would come here; none are used. Anything else is a protocol error
      // (or TLS bytes, from a client told to use TLS here).
      this.malformed.push(`not a Forward request: ${JSON.stringify(msg)?.slice(0, 80)}`)
      sock.destroy()
      return false
    }
    const tag = msg[0]
    let records: Record<string, unknown>[]
    let option: Record<string, unknown> | undefined
    if (Array.isArray(msg[1])) {
      records = (msg[1] as unknown[][]).map((e) => e[1] as Record<string, unknown>)
      option = msg[2] as Record<string, unknown> | undefined
    } else if (msg[1] instanceof Uint8Array) {
      option = msg[2] as Record<string, unknown> | undefined
      const bytes = option?.compressed === 'gzip' ? gunzipSync(msg[1]) : msg[1]
      records = [...decodeMulti(bytes, { extensionCodec: codec, useBigInt64: true })].map((e) => (e as unknown[])[1] as Record<string, unknown>)
    } else {
      records = [msg[2] as Record<string, unknown>]
      option = msg[3] as Record<string, unknown> | undefined
    }
    if (this.#fault.poison && records.some((r) => r.p === 'POISON')) {
      sock.destroy()
      return false
    }
    for (const record of records) this.received.push({ tag, record })
    this.requests++
    const chunk = option?.chunk
    if (typeof chunk === 'string') {
      const answer = this.#fault.answer === undefined ? encode({ ack: chunk }) : this.#fault.answer(chunk)
      if (answer !== null) sock.write(answer)
    }
    return true
  }
}
