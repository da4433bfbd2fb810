export declare const HEADER = 24;
/** What the stage needs from a client: somewhere to deliver a block. */
export interface StageOwner {
    deliver(block: Buffer, length: number, monoNow: number): void;
}
/** Hands whatever is staged to its owner. Safe to call at any time. */
export declare function handOver(): void;
/** Makes `next` the owner of the stage, handing over another client's records first. */
export declare function claim(next: StageOwner): void;
/** Drops ownership (the client closed) after handing its records over. */
export declare function release(client: StageOwner): void;
/**
 * Encodes `record` behind a header at the end of the stage, without committing it.
 * `sec < 0` stamps the record with the monotonic clock, turned into wall time at the handover.
 * Returns the record's encoded length. Throws what `encodeRecord` throws; nothing is staged then.
 */
export declare function encode(tagId: number, record: unknown, sec: number, nsec: number, maxBytes: number): number;
/** Commits the record `encode` just wrote, handing the block over if it is large enough. */
export declare function commit(length: number): void;
