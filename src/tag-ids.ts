/**
 * A client's tag ids by tag, looked up once per record. A null-prototype object rather than a Map:
 * V8 keeps such an object in dictionary mode from the start and looks a string key up by its
 * internalized form, a pointer comparison per probe, where a Map compares a colliding key's
 * characters (V8's `StringEqual`). With 10,000 tags in turn the Map lookup took ~13 % of the main
 * thread's samples (`perf`), and swapping it measured, in one interleaved run of bench/scale-child.mjs
 * (6 rounds, medians), main-thread ns per record at 10,000 tags against 1 tag 1.20x instead of
 * 1.50x, with 1 tag unchanged. A null prototype means no inherited key (`constructor`,
 * `__proto__`) can answer for a tag.
 */
/** Tags named like the client's own EventEmitter events: kept in a table apart, so the hot lookup needs no check. */
export const EMITTER_EVENTS = new Set(['error', 'connect', 'disconnect', 'drain', 'newListener', 'removeListener'])
/** Tags a client's tables keep at most (the native side refuses more live tags anyway). */
export const MAX_TAG_CACHE = 65_536
/** The native error for a full table of live tags (crates/fluent-forward/src/client/mod.rs `tag_id_for`). */
export const TOO_MANY_TAGS = /tags with buffered records/

/** One client's table of tag ids. */
export class TagIds {
  #ids: Record<string, number> = Object.create(null)
  #size = 0

  /** Keeps at most `max` tags (the native side refuses more than that anyway). */
  constructor(private readonly max: number) {}

  /** The id of `tag`, or undefined if unknown or not a string (so a number never reads as a tag). */
  get(tag: unknown): number | undefined {
    return typeof tag === 'string' ? this.#ids[tag] : undefined
  }

  /** Forgets every id: the native side forgot tags, and may give their ids to other tags. */
  clear(): void {
    this.#ids = Object.create(null)
    this.#size = 0
  }

  /** Remembers `tag`'s id, unless the table is full or has it already. */
  set(tag: string, id: number): void {
    if (this.#size >= this.max || this.#ids[tag] !== undefined) return
    this.#ids[tag] = id
    this.#size++
  }
}
