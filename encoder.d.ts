/** The buffer the last `encodeRecord` wrote into (it may have been replaced by a larger one). */
export declare function scratch(): Buffer;
/**
 * Encodes `record` (a plain object or Map) at offset `start`, returning the end offset.
 * Throws FluentError: ERR_FLUENT_INVALID_RECORD, ERR_FLUENT_ENCODE or ERR_FLUENT_RECORD_TOO_LARGE.
 */
export declare function encodeRecord(record: unknown, start: number, maxBytes: number): number;
export declare function isRecord(v: unknown): boolean;
