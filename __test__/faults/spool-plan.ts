/**
 * The spool part of a fault schedule (issue 27): whether the client spools, with which options,
 * and the disk faults: a full disk (the spool dir is a small tmpfs in a private mount namespace),
 * segment files deleted under the client, SIGKILLs of the application at random moments each
 * followed by a restart on the same dir, and a torn tail left by a kill. Drawn from its own stream
 * (schedule.ts forks it), so schedules without a spool are the ones they were before.
 */
import type { Rng } from './rng.js'

export interface Life {
  /** SIGKILL this life this long after it started; the last life is never killed (it ends by close or exit). */
  killAtMs?: number
  /** After the kill, cut this many bytes off the newest segment file before the next life opens it. */
  tearBytes?: number
  /** Delete a segment file (picked by `pick` in [0, 1) among those present) this long after the life started. */
  deletes: Array<{ atMs: number; pick: number }>
}

export interface SpoolPlan {
  maxBytes: number
  syncIntervalMs: number
  /** The spool dir is a tmpfs of this many KiB (a disk that fills up), or a plain directory. */
  diskKiB?: number
  /** One process after another on the same dir; all but the last SIGKILLed. */
  lives: Life[]
}

/** Share of the schedules that spool; the others keep checking the memory-only client. */
const SPOOL_CHANCE = 0.4

export function drawSpool(rng: Rng): SpoolPlan | undefined {
  if (!rng.chance(SPOOL_CHANCE)) return undefined
  const kills = rng.pick([0, 1, 1, 2])
  const lives: Life[] = []
  for (let k = 0; k <= kills; k++) {
    const last = k === kills
    const deletes = rng.chance(0.25) ? [{ atMs: rng.int(50, 2000), pick: rng.next() }] : []
    lives.push({
      killAtMs: last ? undefined : rng.int(200, 2000),
      tearBytes: !last && rng.chance(0.5) ? rng.int(1, 700) : undefined,
      deletes,
    })
  }
  return {
    maxBytes: rng.pick([1 << 20, 4 << 20, 64 << 20]),
    syncIntervalMs: rng.pick([-1, 0, 200, 1000]),
    diskKiB: rng.chance(0.25) ? rng.int(64, 1024) : undefined,
    lives,
  }
}

export function spoolFaultsOf(p: SpoolPlan): string[] {
  return [
    ...(p.diskKiB !== undefined ? ['diskFull'] : []),
    ...p.lives.flatMap((l) => [
      ...(l.killAtMs !== undefined ? ['appKill'] : []),
      ...(l.tearBytes !== undefined ? ['tornTail'] : []),
      ...l.deletes.map(() => 'segmentDeleted'),
    ]),
  ]
}
