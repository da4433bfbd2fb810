/**
 * The record encoder: JS values to one msgpack map, written into a scratch buffer that is reused
 * for every record and handed to the native side by reference (it copies the bytes once).
 * Measured against JSON.stringify and msgpackr in bench/crossing.ts; see the README.
 *
 * One set of rules at every depth, JSON's where JSON has an answer: own enumerable string keys;
 * undefined, functions and symbols left out of objects and nil in arrays; `toJSON` applied once;
 * Dates as ISO strings; boxed primitives as their value. msgpack where it does better: integers stay
 * integers, Buffers and typed arrays become bin, BigInts in the 64-bit range become int64/uint64,
 * NaN and Infinity stay floats, and Errors become `{ name, message, stack, ...own fields, cause }`.
 *
 * The parts, in encoder/ (each imports only those before it):
 *   - fail.ts: the encoder's own errors, told apart from what user code throws;
 *   - state.ts: the output buffer and position shared by every writer, and the side buffers of
 *     records encoded from inside records (re-entrancy);
 *   - strings.ts: msgpack strings and the recurring-string cache (speed: strings that recur at the
 *     same place from one record to the next are copied from their encoded bytes);
 *   - values.ts: records (`encodeRecord`) and every other value;
 *   - entries.ts: a logger's bound fields, encoded once;
 *   - spliced.ts: the logger's records (`encodeSpliced`), copied from what was encoded once.
 * This file is the encoder's one entry point: other modules import from './encoder.js'.
 *
 * Split from one 902-line file whose state was module-level `let`s (issue 30), and measured not
 * slower: `AB_ROUNDS=7 AB_INNER=3 AB_TASK_MS=250 ENCODER_BASELINE=<a677d54 built>
 * node --import @oxc-node/core/register bench/encoder-ab.ts` (2026-12-07, Node 20.20.2; 7 rounds,
 * one fresh process per build per round, order alternating). Net ns per call, this split / the one
 * file, medians over the rounds: small record 1.02, medium 1.02, large 0.97, `child.info` 1.06
 * (slower in 6 of its 7 rounds: the one figure to watch);
 * the per-round ratios ranged 0.85-1.48, 0.87-1.04, 0.62-1.13 and 0.80-1.20 (bench/results/encoder-ab.md),
 * and the same bench with the one-file build against a copy of itself (5 rounds of 150 ms tasks)
 * gave 0.94 to 1.32 by shape: differences of a few percent are below what this machine resolves.
 * Two things keep it there, since tsc compiles these modules to CommonJS: the constants below, and
 * the parts' local bindings of what they import (against named imports: small 0.88, medium 0.93,
 * large 0.98, `child.info` 0.97; bench/results/encoder-ab-bindings.md).
 */
import * as entries from './encoder/entries.js'
import * as fail from './encoder/fail.js'
import * as splicing from './encoder/spliced.js'
import * as state from './encoder/state.js'
import * as strings from './encoder/strings.js'
import * as values from './encoder/values.js'

// Constants rather than `export { ... } from`: tsc compiles a re-export into a getter on this
// module's exports, run on every use through it (the logger sets `spliced`'s fields through it per
// record), where a constant is a plain data property.

/** Was `e` raised by the encoder for the record being encoded (not by user code)? Answered once. */
export const takeOwnError = fail.takeOwnError
/** Records logged from inside records, at most this deep. */
export const MAX_NESTED = state.MAX_NESTED
/** Switches to a side buffer for a record encoded from inside another one. */
export const enterSide = state.enterSide
/** Back to the outer record, exactly where it was. */
export const leaveSide = state.leaveSide
/** The stage's buffer: the outermost record's, even while a nested record is being encoded. */
export const primary = state.primary
/** The DataView of the primary buffer. */
export const primaryView = state.primaryView
/** Called before an outermost record: drops nested state left by a bug. */
export const resetSides = state.resetSides
/** The buffer the last `encodeRecord` wrote into (it may have been replaced by a larger one). */
export const scratch = state.scratch
/** Makes a client's stage buffer the one outermost records are encoded into. */
export const usePrimary = state.usePrimary
/** `s` as a msgpack string, encoded in a side buffer. */
export const encodeString = strings.encodeString
/** Encodes a record at an offset, returning the end offset. */
export const encodeRecord = values.encodeRecord
/** Can this value be a record (a map at the top level)? */
export const isRecord = values.isRecord
/** A logger's bound fields as entries encoded once. */
export const encodeEntries = entries.encodeEntries
/** No fields: a logger without bound fields. */
export const NO_ENTRIES = entries.NO_ENTRIES
/** Own enumerable fields, each encoded once as a msgpack key and value, ready to be copied. */
export type Entries = entries.Entries
/** `encodeRecord` for the `spliced` record. */
export const encodeSpliced = splicing.encodeSpliced
/** The record the logger stages, set field by field before `encodeSpliced`. */
export const spliced = splicing.spliced
/** Bytes as `Words`. */
export const toWords = splicing.toWords
/** The record keys of a logger's trace ids, each encoded once. */
export type TraceKeys = splicing.TraceKeys
/** Bytes encoded once and copied into records a word at a time. */
export type Words = splicing.Words
