/**
 * A small seeded generator (mulberry32): the same seed draws the same schedule in the parent
 * (servers and faults) and in the child (client operations), so a failing seed replays exactly.
 */
export class Rng {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Record<K, number>): K {
    const keys = Object.keys(weights) as K[]
    const total = keys.reduce((n, k) => n + weights[k], 0)
    let at = this.next() * total
    for (const k of keys) {
      at -= weights[k]
      if (at < 0) return k
    }
    return keys[keys.length - 1]
  }

  /** A seed for a sub-stream (the child's operations), so adding a fault does not shift them. */
  fork(salt: number): Rng {
    return new Rng(Math.imul((this.#state ^ salt) >>> 0, 0x9e3779b1) ^ salt)
  }
}

/** What every record carries besides its id, derived from the id alone, so the server can check it. */
export function payload(id: number, poison: boolean): Record<string, unknown> {
  return {
    id,
    p: poison ? 'POISON' : `r${id}-${'é"\n'.repeat(id % 7)}${'x'.repeat(id % 113)}`,
    n: id * 3 - 7,
    nested: { f: id / 8, list: [id % 3, String(id % 5), id % 2 === 0] },
  }
}

/** Whether record `id` is a poison record in a schedule with poison enabled (about 1 in 500). */
export function isPoison(id: number, enabled: boolean): boolean {
  return enabled && Math.imul(id ^ 0x5bd1e995, 0x27d4eb2d) >>> 0 < 4294967296 / 500
}
