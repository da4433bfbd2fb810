/**
 * Every contender the driver (index.ts) can run, and the references, as data: the driver picks and
 * labels runs from it, report.ts groups rows by its scenario and kind. The child process makes the
 * client for an id in make-client.ts.
 */

export type Scenario = 'plain' | 'ack' | 'gzip' | 'tls'
export type Kind = 'native' | 'js' | 'lean' | 'idle'

export interface ContenderInfo {
  id: string
  label: string
  /** For the chart. */
  short: string
  scenario: Scenario
  kind: Kind
  /** Left out of BENCH_QUICK runs. */
  full?: boolean
}

/** Every contender the driver can run, in display order. */
export const CONTENDERS: readonly ContenderInfo[] = [
  { id: 'native', label: 'fluent-native (PackedForward)', short: 'fluent-native', scenario: 'plain', kind: 'native' },
  // Another built checkout (BENCH_BASELINE=<dir>), to compare two builds in one run; only when asked for.
  { id: 'native-base', label: 'fluent-native, baseline build', short: 'fluent-native (base)', scenario: 'plain', kind: 'native' },
  { id: 'org-packed', label: '@fluent-org/logger default (PackedForward)', short: '@fluent-org default', scenario: 'plain', kind: 'js', full: true },
  { id: 'org-forward', label: '@fluent-org/logger Forward', short: '@fluent-org Forward', scenario: 'plain', kind: 'js' },
  { id: 'fl-message', label: 'fluent-logger default (Message)', short: 'fluent-logger Message', scenario: 'plain', kind: 'js' },
  { id: 'fl-packed', label: 'fluent-logger PackedForward', short: 'fluent-logger Packed', scenario: 'plain', kind: 'js', full: true },
  { id: 'lean', label: 'lean msgpackr client (30 lines)', short: 'lean msgpackr (ref.)', scenario: 'plain', kind: 'lean' },
  { id: 'native-ack', label: 'fluent-native requireAck', short: 'fluent-native ack', scenario: 'ack', kind: 'native' },
  { id: 'org-ack', label: '@fluent-org/logger PackedForward + ack', short: '@fluent-org ack', scenario: 'ack', kind: 'js' },
  { id: 'fl-packed-ack', label: 'fluent-logger PackedForward + ack', short: 'fluent-logger Packed+ack', scenario: 'ack', kind: 'js', full: true },
  { id: 'native-gzip', label: 'fluent-native gzip', short: 'fluent-native gzip', scenario: 'gzip', kind: 'native' },
  { id: 'org-gzip', label: '@fluent-org/logger CompressedPackedForward', short: '@fluent-org gzip', scenario: 'gzip', kind: 'js' },
  { id: 'fl-gzip', label: 'fluent-logger CompressedPackedForward', short: 'fluent-logger gzip', scenario: 'gzip', kind: 'js', full: true },
  // TLS 1.3 to the sink's TLS listener (test-only certificates in __test__/fixtures/tls).
  { id: 'native-tls', label: 'fluent-native TLS 1.3', short: 'fluent-native TLS', scenario: 'tls', kind: 'native' },
  { id: 'org-tls', label: '@fluent-org/logger Forward, TLS 1.3', short: '@fluent-org TLS', scenario: 'tls', kind: 'js' },
]
export const IDLE: ContenderInfo = { id: 'idle', label: 'idle loop (emit does nothing)', short: 'idle loop (ref.)', scenario: 'plain', kind: 'idle' }
/**
 * The application's own share of a paced run: records are built as for every contender and stored
 * in a module variable, so the optimizer cannot drop the allocation, then left to the GC. Its loop
 * delay over the idle loop is what building 200k objects a second costs, before any logging.
 */
export const BUILD: ContenderInfo = { id: 'build', label: 'records built, not sent', short: 'build only (ref.)', scenario: 'plain', kind: 'idle' }
/**
 * A stand-in for a logger that costs only CPU on the main thread: records are built (as BUILD) and
 * each call then busy-waits `spinNs` (ChildConfig; perf.ts passes fluent-native's measured
 * main-thread ns per record). No thread, socket or allocation of its own: its loop delay over the
 * build-only loop is what that much synchronous work per record costs the loop by itself.
 */
export const SPIN: ContenderInfo = {
  id: 'spin',
  label: "records built, then a busy wait of fluent-native's main-thread CPU per record",
  short: 'CPU stand-in (ref.)',
  scenario: 'plain',
  kind: 'idle',
}
