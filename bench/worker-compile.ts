/**
 * The child's code for plain `node` (see worker.ts): worker.ts and the bench modules it imports,
 * compiled by oxc into a temporary directory as .mjs files whose `./x.ts` imports now name `./x.mjs`.
 * The imports are followed in the compiled code, where type-only imports are gone, so a type the
 * child shares with the driver brings no driver code into the child.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { transform } from '@oxc-node/core'

/** A static import or re-export of a sibling module: `from "./x.ts"`, `import "./x.ts"`. */
const SIBLING = /(\bfrom\s*|\bimport\s*)(["'])\.\/([\w.-]+)\.ts\2/g
/** Every static specifier after the rewrite; from a temporary directory only these two kinds load. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*)(["'])([^"'\n]+)\1/g
const LOADABLE = /^(node:|\.\/[\w.-]+\.mjs$)/

/** Compiles the child's modules (removed when this process exits); returns the entry's path. */
export function compileWorker(benchDir: string): string {
  const out = mkdtempSync(join(tmpdir(), 'fluent-bench-worker-'))
  process.once('exit', () => rmSync(out, { recursive: true, force: true }))
  const todo = ['worker']
  const done = new Set<string>()
  while (todo.length > 0) {
    const name = todo.pop()!
    if (done.has(name)) continue
    done.add(name)
    const file = join(benchDir, `${name}.ts`)
    const js = transform(file, readFileSync(file))
      .source()
      .replace(SIBLING, (_, head: string, quote: string, dep: string) => {
        todo.push(dep)
        return `${head}${quote}./${dep}.mjs${quote}`
      })
    for (const [, , spec] of js.matchAll(SPECIFIER)) {
      if (!LOADABLE.test(spec)) {
        throw new Error(
          `${name}.ts imports "${spec}": the child's modules import node: built-ins and ./sibling.ts modules only ` +
            '(packages and built files through importer.ts)',
        )
      }
    }
    writeFileSync(join(out, `${name}.mjs`), js)
  }
  return join(out, 'worker.mjs')
}
