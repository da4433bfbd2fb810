/**
 * The encoder's own errors, told apart from what user code (a getter, `toJSON`, a Proxy trap) throws
 * in the middle of a record: the caller reports the first as the record's fault and wraps the second.
 */
import { FluentError } from '../errors.js'
import type { FluentErrorCode } from '../errors.js'

/** The last error this encoder raised, to tell it apart from what user code (a getter) threw. */
let own: unknown

/**
 * Was `e` raised by the encoder for the record being encoded (rather than by a getter, `toJSON` or
 * trap)? Answered once: the same error seen again has come back out of user code (a getter whose
 * own logging failed), and then it is that getter's error.
 */
export function takeOwnError(e: unknown): boolean {
  if (e !== own) return false
  own = undefined
  return true
}

/** Throws a FluentError, remembered as the encoder's own (`takeOwnError`). */
export function fail(code: FluentErrorCode, message: string): never {
  own = new FluentError(code, message)
  throw own
}
