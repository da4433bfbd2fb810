/**
 * A batch as the failure handler and the 'delivered' event see it: the tag, the msgpack entries
 * exactly as they go on the wire (`bytes`), and `records`, decoded only when first read, so that
 * nobody pays for decoding a batch they only pass on (to a file as bytes, or to another client).
 */
import { ExtensionCodec, decodeMulti } from '@msgpack/msgpack'
import { EventTime } from './time.js'

/** One record of a batch, decoded. */
export interface BatchRecord {
  /** Its event time (integer-second times become `EventTime(sec, 0)`). */
  time: EventTime
  /** The record, decoded with @msgpack/msgpack (bin as `Uint8Array`, integers past 2^53 as `bigint`). */
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

/** The records of one tag, as the failure handler and `'delivered'` listeners get them. */
export class Batch {
  /** The records' tag. */
  readonly tag: string
  /** The msgpack entries as they went (or would have gone) on the wire. */
  readonly bytes: Buffer
  /** How many records. */
  readonly count: number
  #records: BatchRecord[] | undefined

  /** @internal Made by the client. */
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
  /** Why the records reached the handler. */
  readonly reason: BatchReason
  /**
   * `true`: returning `false` from the handler keeps the records (they are buffered again, to be
   * retried). `false` (dropped by the overflow policy, left at close or exit): they cannot be kept.
   */
  readonly retriable: boolean

  /** @internal Made by the client. */
  constructor(tag: string, bytes: Buffer, count: number, reason: BatchReason, retriable: boolean) {
    super(tag, bytes, count)
    this.reason = reason
    this.retriable = retriable
  }
}

/** What a 'delivered' listener receives. */
export interface DeliveredBatch {
  /** The records' tag. */
  tag: string
  /** Decoded on first read. */
  readonly records: BatchRecord[]
  /** The msgpack entries as they went on the wire. */
  bytes: Buffer
  /** How many records. */
  count: number
  /** `host:port` or the socket path. */
  server: string
  /** The server acknowledged it (`requireAck`); otherwise the kernel took it. */
  acked: boolean
}

/** @internal The 'delivered' event's batch. */
export class Delivered extends Batch implements DeliveredBatch {
  /** `host:port` or the socket path. */
  readonly server: string
  /** The server acknowledged it (`requireAck`); otherwise the kernel took it. */
  readonly acked: boolean

  /** Made by the client from a `delivered` native event. */
  constructor(tag: string, bytes: Buffer, count: number, server: string, acked: boolean) {
    super(tag, bytes, count)
    this.server = server
    this.acked = acked
  }
}
