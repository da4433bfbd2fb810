// The ESM entry: the same objects as the CommonJS one (index.js), so a program that mixes
// `import` and `require` gets one FluentClient class and one exit drain, never two copies.
// __test__/entry.spec.ts checks that both export the same names.
import cjs from './index.js'

export const {
  FluentClient,
  FluentReceiver,
  FluentError,
  EventTime,
  collectMetrics,
  METRIC_NAMES,
  channels,
  FailedBatch,
  fallbackToFile,
  fallbackToStream,
  fallbackToClient,
} = cjs
