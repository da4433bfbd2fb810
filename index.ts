/**
 * fluent-native: a Fluentd / Fluent Bit Forward-protocol client with a Rust core.
 *
 * The JS thread only encodes each record to msgpack (src/encoder.ts) and hands the bytes over;
 * batching, framing, gzip, acks, retries and reconnects happen on the native writer thread.
 */
export { FluentClient } from './src/client.js'
export { EventTime } from './src/time.js'
export { collectMetrics, METRIC_NAMES } from './src/metrics.js'
export type { CollectOptions, Labels, MetricsRegistry } from './src/metrics.js'
export { channels } from './src/diagnostics.js'
export { FluentReceiver } from './src/receiver.js'
export type { FluentReceiverOptions, FluentReceiverStats, ReceivedEvent } from './src/receiver.js'
export type { Time } from './src/time.js'
export type { Logger, LoggerOptions, LogLevel, LogMethod } from './src/logger.js'
export type { TraceContextOption } from './src/trace.js'
export { FluentError } from './src/errors.js'
export type { FluentWritable, WritableOptions } from './src/writable.js'
export type { LineOptions } from './src/ndjson.js'
export type { FluentErrorCode } from './src/errors.js'
export type { FluentClientEvent, FluentClientEvents } from './src/events.js'
export { fallbackToClient, fallbackToFile, fallbackToStream } from './src/fallbacks.js'
export type { EntrySink, ErrorHandler } from './src/fallbacks.js'
export { FailedBatch } from './src/batch.js'
export type { BatchReason, BatchRecord, DeliveredBatch } from './src/batch.js'
export type {
  BreakerEvent,
  BreakerOptions,
  CloseOptions,
  CloseReport,
  EmitManyResult,
  FlushOptions,
  FluentClientOptions,
  FluentStats,
  Mode,
  OverflowPolicy,
  SecurityOptions,
  ServerOptions,
  ServerStats,
  SpoolOptions,
  SpoolStats,
  TlsOptions,
} from './src/types.js'
