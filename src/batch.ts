/**
 * A batch as the failure handler and the 'delivered' event see it: the tag, the msgpack entries
 * exactly as they go on the wire (`bytes`), and `records`, decoded only when first read, so that
 * nobody pays for decoding a batch they only pass on (to a file as bytes, or to another client).
 */
import { ExtensionCodec, decodeMulti } from '@msgpack/msgpack'
import { EventTime } from './time.js'

export interface BatchRecord {
  time: EventTime
  record: Record<string, unknown>
}

/** Why records reached the failure handler. */
export type BatchReason = 'rejected' | 'dropped' | 'unavailable' | 'close' | 'exit'

/** EventTime is msgpack ext 0: 4 bytes seconds, 4 bytes nanoseconds, big-endian. */
const codec = new ExtensionCodec()
codec.register({
  type: 0,
  encode: () => null,
  decode: (data: Uint8Array) => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    return new EventTime(view.getUint32(0), view.getUint32(4))
  },
})

/** Decodes concatenated entries (`[time, record]` each). Integer times become EventTime(sec, 0). */
export function decodeEntries(bytes: Uint8Array): BatchRecord[] {
  const out: BatchRecord[] = []
  // useBigInt64: integers past 2^53 keep every digit (as BigInt) instead of rounding.
  for (const entry of decodeMulti(bytes, { extensionCodec: codec, useBigInt64: true })) {
    const [time, record] = entry as [EventTime | number | bigint, Record<string, unknown>]
    out.push({ time: time instanceof EventTime ? time : new EventTime(Number(time), 0), record })
  }
  return out
}

export class Batch {
  readonly tag: string
  /** The msgpack entries as they went (or would have gone) on the wire. */
  readonly bytes: Buffer
  /** How many records. */
  readonly count: number
  #records: BatchRecord[] | undefined

  constructor(tag: string, bytes: Buffer, count: number) {
    this.tag = tag
    this.bytes = bytes
    this.count = count
  }

  /** `[{ time, record }]`, decoded on first read. */
  get records(): BatchRecord[] {
    this.#records ??= decodeEntries(this.bytes)
    return this.#records
  }
}

/** What the failure handler receives. */
export class FailedBatch extends Batch {
  readonly reason: BatchReason
  /**
   * `true`: returning `false` from the handler keeps the records (they are buffered again, to be
   * retried). `false` (dropped by the overflow policy, left at close or exit): they cannot be kept.
   */
  readonly retriable: boolean

  constructor(tag: string, bytes: Buffer, count: number, reason: BatchReason, retriable: boolean) {
    super(tag, bytes, count)
    this.reason = reason
    this.retriable = retriable
  }
}

/** What a 'delivered' listener receives. */
export interface DeliveredBatch {
  tag: string
  /** Decoded on first read. */
  readonly records: BatchRecord[]
  bytes: Buffer
  count: number
  /** `host:port` or the socket path. */
  server: string
  /** The server acknowledged it (`requireAck`); otherwise the kernel took it. */
  acked: boolean
}

export class Delivered extends Batch implements DeliveredBatch {
  readonly server: string
  readonly acked: boolean

  constructor(tag: string, bytes: Buffer, count: number, server: string, acked: boolean) {
    super(tag, bytes, count)
    this.server = server
    this.acked = acked
  }
}
