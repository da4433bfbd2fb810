/**
 * fluent-native: a Fluentd / Fluent Bit Forward-protocol client with a Rust core.
 *
 * The JS thread only encodes each record to msgpack (encoder.ts) and hands the bytes over; batching,
 * framing, gzip, acks, retries and reconnects happen on the native writer thread.
 */
import { EventEmitter } from 'node:events';
import type { StageOwner } from './stage.js';
import { FluentError } from './errors.js';
import type { FluentErrorCode } from './errors.js';
export { FluentError };
export type { FluentErrorCode };
/** A timestamp with nanoseconds, as the protocol's EventTime carries it (seconds are unsigned 32-bit). */
export declare class EventTime {
    readonly epoch: number;
    readonly nano: number;
    constructor(epoch: number, nano: number);
    static fromDate(date: Date): EventTime;
    /** From seconds since the epoch; the fraction is kept to the nanosecond a double allows. */
    static fromTimestamp(seconds: number): EventTime;
}
export type Mode = 'message' | 'forward' | 'packedForward';
export type OverflowPolicy = 'dropNewest' | 'dropOldest' | 'error';
export interface FluentClientOptions {
    /** Server host. Default `'127.0.0.1'`. */
    host?: string;
    /** Server port. Default `24224`. */
    port?: number;
    /** Unix socket path; when set, host and port are ignored. */
    path?: string;
    /** Wire form. Default `'packedForward'`. */
    mode?: Mode;
    /** Send integer seconds instead of EventTime (for fluentd 0.12). Default `false`. */
    timeAsInteger?: boolean;
    /** `'gzip'` sends CompressedPackedForward. Default: no compression. */
    compress?: 'gzip' | false;
    /** gzip level 0-9. Default `1`: on log-like text it compressed as well as 6 here, 5x faster. */
    compressionLevel?: number;
    /** Ask the server to acknowledge every batch and resend unacknowledged ones. Default `false`. */
    requireAck?: boolean;
    /** Cap on all buffered record bytes (waiting, being written, awaiting ack, plus 4 bytes of index per record). Default 64 MiB. */
    maxBufferBytes?: number;
    /** What happens to a record when the buffer is full. Default `'dropNewest'`. */
    overflow?: OverflowPolicy;
    /** Send a batch once it holds this many bytes. Default 512 KiB. */
    batchBytes?: number;
    /** ...or once its first record has waited this long. Default 50 ms. */
    flushIntervalMs?: number;
    /** Largest record accepted. Default 4 MiB (Fluent Bit refuses requests over 6,144,000 bytes). */
    maxRecordBytes?: number;
    /** Default 5000. */
    connectTimeoutMs?: number;
    /** A write that makes no progress for this long drops the connection. Default 10000. */
    writeTimeoutMs?: number;
    /** Unacknowledged batches are resent on a new connection after this. Default 30000. */
    ackTimeoutMs?: number;
    /** Batches awaiting an ack at once. Default 8. */
    maxInFlight?: number;
    /** Reconnect backoff: first delay. Default 100. */
    reconnectInitialDelayMs?: number;
    /** Reconnect backoff: largest delay. Default 10000. */
    reconnectMaxDelayMs?: number;
    /** At process exit, how long to block while buffered records drain. Default 2000; 0 disables. */
    exitFlushTimeoutMs?: number;
}
export interface CloseOptions {
    /** How long to keep trying to deliver buffered records. Default 5000. */
    timeoutMs?: number;
}
export interface CloseReport {
    /** Records delivered over the client's life (acknowledged, with `requireAck`). */
    sent: number;
    /** Records dropped before the close (overflow policy, emits after close). */
    dropped: number;
    /** Records still buffered at the deadline; they were discarded and reported as ERR_FLUENT_UNDELIVERED. */
    pending: number;
}
export interface FluentStats {
    emitted: number;
    sent: number;
    dropped: number;
    queuedBytes: number;
    queuedRecords: number;
    inFlightBatches: number;
    batchesSent: number;
    bytesSent: number;
    connects: number;
    reconnects: number;
    /** Errors the writer reported (each also went to 'error' listeners, if any). */
    errors: number;
    /** Events (errors, connects) lost because the JS thread was too far behind to take them (queue of 1024). */
    eventsLost: number;
    /** Errors with no 'error' listener to receive them: counted here, never thrown. */
    unhandledErrors: number;
    /** Batches written again after a failure. */
    retries: number;
    connected: boolean;
}
export interface EmitManyResult {
    accepted: number;
    dropped: number;
    /** Records that could not be encoded, by index; the others were still sent. */
    errors: Array<{
        index: number;
        error: FluentError;
    }>;
}
export type Time = number | Date | EventTime;
/**
 * Events: `'connect'`, `'disconnect'` (err), `'error'` (FluentError). Errors with no `'error'`
 * listener are counted in `stats().unhandledErrors`, never thrown.
 */
export declare class FluentClient extends EventEmitter implements StageOwner {
    #private;
    constructor(options?: FluentClientOptions);
    /**
     * Buffers one record; never waits on the network. Returns `true` if the record was accepted into
     * the buffer, `false` if the overflow policy or a closed client refused it (counted as dropped).
     * Throws FluentError for a bad tag, record or time, or a full buffer under `overflow: 'error'`.
     */
    emit(tag: string, record: object, time?: Time): boolean;
    /** @internal EventEmitter's own emit, used for events. */
    emit(event: string | symbol, ...args: unknown[]): boolean;
    /** @internal StageOwner: receives a staged block (and the refusals since the last one). */
    deliver(block: Buffer, length: number, monoNow: number): void;
    /** Encodes and buffers many records for one tag. Bad records are returned in `errors`, the rest are sent. */
    emitMany(tag: string, records: readonly object[], time?: Time): EmitManyResult;
    /**
     * Buffers one record already encoded as a msgpack map. It is validated (structure, UTF-8, string
     * keys), not trusted: anything else throws ERR_FLUENT_ENCODE and nothing is buffered.
     */
    emitRaw(tag: string, bytes: Uint8Array, time?: Time): boolean;
    /** Resolves once every record emitted before the call is written (acknowledged, with `requireAck`). */
    flush(options?: {
        timeoutMs?: number;
    }): Promise<void>;
    /** Stops accepting records, drains within the deadline, and reports what was and was not delivered. */
    close(options?: CloseOptions): Promise<CloseReport>;
    /** @internal Process exit: blocks for at most `exitFlushTimeoutMs` while buffered records drain. */
    closeSync(): void;
    stats(): FluentStats;
}
