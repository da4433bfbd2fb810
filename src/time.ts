/**
 * Record times: numbers of seconds, Dates and EventTimes, split into the protocol's seconds and
 * nanoseconds without allocating on the emit path.
 */
import { STAGING_NOW } from '../binding.js'
import { FluentError } from './errors.js'

/** A timestamp with nanoseconds, as the protocol's EventTime carries it (seconds are unsigned 32-bit). */
export class EventTime {
  /** Seconds since the Unix epoch, 0 to 2^32-1. */
  readonly epoch: number
  /** Nanoseconds, 0 to 999,999,999. */
  readonly nano: number

  /** Throws ERR_FLUENT_INVALID_TIME out of range. */
  constructor(epoch: number, nano: number) {
    checkEventTime(epoch, nano)
    this.epoch = epoch
    this.nano = nano
  }

  /** From a Date (millisecond resolution). */
  static fromDate(date: Date): EventTime {
    splitDate(date)
    return new EventTime(split.sec, split.nsec)
  }

  /** From seconds since the epoch; the fraction is kept to the nanosecond a double allows. */
  static fromTimestamp(seconds: number): EventTime {
    splitSeconds(seconds)
    return new EventTime(split.sec, split.nsec)
  }
}

/** The protocol's EventTime range: unsigned 32-bit seconds, nanoseconds below one second. */
function checkEventTime(epoch: unknown, nano: unknown): void {
  if (!Number.isInteger(epoch) || (epoch as number) < 0 || (epoch as number) > 0xffffffff) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', `EventTime seconds must be an integer in 0..2^32-1, got ${String(epoch)}`)
  }
  if (!Number.isInteger(nano) || (nano as number) < 0 || (nano as number) > 999_999_999) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', `EventTime nanoseconds must be an integer in 0..999999999, got ${String(nano)}`)
  }
}

/** A record's time: seconds since the epoch (the fraction kept), a Date, or an EventTime. */
export type Time = number | Date | EventTime

/**
 * The result of the last split. Callers copy both fields into locals straight away: a getter in a
 * record may log (and split another time) before the record is staged.
 */
export const split = { sec: 0, nsec: 0 }

function splitSeconds(t: number): void {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0 || t >= 0x100000000) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', `time must be seconds in 0..2^32, a Date or an EventTime, got ${t}`)
  }
  let sec = Math.floor(t)
  let nsec = Math.round((t - sec) * 1e9)
  if (nsec >= 1e9) {
    sec += 1
    nsec = 0
  }
  if (sec > 0xffffffff) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', `time must be seconds in 0..2^32, got ${t}`)
  }
  split.sec = sec
  split.nsec = nsec
}

function splitDate(date: Date): void {
  const ms = Date.prototype.getTime.call(date)
  if (!Number.isFinite(ms) || ms < 0 || ms >= 0x100000000 * 1000) {
    throw new FluentError('ERR_FLUENT_INVALID_TIME', 'invalid Date or outside 1970..2106')
  }
  // Whole milliseconds convert exactly; going through fractional seconds would not.
  split.sec = Math.floor(ms / 1000)
  split.nsec = (ms - split.sec * 1000) * 1_000_000
}

/** Splits any accepted time; `undefined` (now) gives nanoseconds = STAGING_NOW, which the stage stamps. */
export function splitTime(time: Time | undefined): void {
  if (time === undefined) {
    split.sec = 0
    split.nsec = STAGING_NOW
    return
  }
  if (typeof time === 'number') return splitSeconds(time)
  try {
    if (time instanceof EventTime) {
      // Both fields are read before either is stored (a getter could log, and split, in between),
      // and checked again: an object made from EventTime.prototype skips the constructor.
      const sec = time.epoch
      const nsec = time.nano
      checkEventTime(sec, nsec)
      split.sec = sec
      split.nsec = nsec
      return
    }
    if (time instanceof Date) return splitDate(time)
  } catch (e) {
    if (e instanceof FluentError) throw e
    throw new FluentError('ERR_FLUENT_INVALID_TIME', `reading the time threw: ${describeError(e)}`, { cause: e })
  }
  throw new FluentError('ERR_FLUENT_INVALID_TIME', `time must be seconds, a Date or an EventTime, got ${typeof time}`)
}

/** A message for anything thrown, even an object whose `message` getter throws. */
export function describeError(e: unknown): string {
  try {
    const message = (e as { message?: unknown })?.message
    return typeof message === 'string' ? message : String(e)
  } catch {
    return 'an exception that cannot be printed'
  }
}
