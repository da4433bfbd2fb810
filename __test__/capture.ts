// A raw Forward receiver for what FluentServer cannot show: it keeps the bytes of `mode: 'message'`
// entries and decodes them with msgpackr, 64-bit integers as BigInt (FluentServer's decoder rounds
// them to doubles).
import net from 'node:net'
import { Unpackr } from 'msgpackr'

const unpackr = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'bigint' })

export class Capture {
  readonly #server: net.Server
  readonly #chunks: Buffer[] = []
  port = 0

  private constructor() {
    this.#server = net.createServer((socket) => socket.on('data', (d) => this.#chunks.push(d)))
  }

  static async start(): Promise<Capture> {
    const c = new Capture()
    await new Promise<void>((resolve) => c.#server.listen(0, '127.0.0.1', resolve))
    c.port = (c.#server.address() as net.AddressInfo).port
    return c
  }

  /** `[tag, time, record]` messages (send with `mode: 'message'`, `timeAsInteger: true`). */
  messages(): Array<[string, bigint, Record<string, unknown>]> {
    const all = Buffer.concat(this.#chunks)
    if (all.length === 0) return []
    return unpackr.unpackMultiple(all) as Array<[string, bigint, Record<string, unknown>]>
  }

  close(): Promise<void> {
    this.#server.closeAllConnections?.()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
