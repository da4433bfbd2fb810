/**
 * The disk side of a spooling fault schedule: where the spool dir is (a plain temporary directory,
 * or a small tmpfs in a private mount namespace for a full disk, reached from here through
 * /proc/<holder>/root), and the faults done to its files from outside the client: a segment file
 * deleted under it, the newest segment cut short (a torn tail, as a kill mid-write leaves it).
 */
import { readdirSync, rmSync, statSync, truncateSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { MountNs, spoolDir } from '../spool-helpers.js'
import type { SpoolPlan } from './spool-plan.js'

export class SpoolDisk {
  /** The spool dir as the client sees it. */
  readonly dir: string
  readonly #ns: MountNs | undefined

  private constructor(dir: string, ns: MountNs | undefined) {
    this.dir = dir
    this.#ns = ns
  }

  static async open(plan: SpoolPlan): Promise<SpoolDisk> {
    if (plan.diskKiB === undefined) return new SpoolDisk(spoolDir(), undefined)
    // Throws, saying why, without root and unshare/nsenter: the schedule fails, it is not skipped.
    const ns = await MountNs.start({ sizeKiB: plan.diskKiB })
    return new SpoolDisk(ns.dir, ns)
  }

  /** Prefix for the client's command (runs it inside the namespace of the small disk). */
  get wrap(): string[] {
    return this.#ns?.wrap ?? []
  }

  /** The spool dir as this process reaches it. */
  get #here(): string {
    return this.#ns === undefined ? this.dir : this.#ns.outside(this.dir)
  }

  /** Every segment file, in slot and name order (paths as this process reaches them). */
  segments(): string[] {
    const out: string[] = []
    try {
      for (const slot of readdirSync(this.#here).sort()) {
        const p = join(this.#here, slot)
        try {
          for (const f of readdirSync(p).sort()) if (f.endsWith('.seg')) out.push(join(p, f))
        } catch {
          // not a directory
        }
      }
    } catch {
      // the dir does not exist yet
    }
    return out
  }

  /** Deletes the segment file `pick` (in [0, 1)) points at; what it deleted, if anything. */
  deleteOne(pick: number): string | undefined {
    const segs = this.segments()
    if (segs.length === 0) return undefined
    const victim = segs[Math.floor(pick * segs.length)]
    try {
      unlinkSync(victim)
      return victim
    } catch {
      return undefined // the client deleted it first (settled)
    }
  }

  /** Cuts `bytes` off the newest segment file (never into its 16-byte header); what it cut. */
  tear(bytes: number): string | undefined {
    const segs = this.segments()
    const newest = segs.sort((a, b) => a.slice(a.lastIndexOf('/')).localeCompare(b.slice(b.lastIndexOf('/')))).at(-1)
    if (newest === undefined) return undefined
    const size = statSync(newest).size
    if (size <= 16) return undefined
    truncateSync(newest, Math.max(16, size - bytes))
    return `${newest} ${size} -> ${Math.max(16, size - bytes)}`
  }

  async close(): Promise<void> {
    if (this.#ns !== undefined) await this.#ns.stop()
    else rmSync(this.dir, { recursive: true, force: true })
  }
}
