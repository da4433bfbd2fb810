/**
 * Resolves package specifiers and the project's own files from bench/, wherever this code runs: the
 * child's modules run compiled from a temporary directory (worker-compile.ts), where neither
 * node_modules nor ../index.js can be found relative to them.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

export type Importer = (spec: string) => Promise<any>

export function importer(benchDir: string): Importer {
  const req = createRequire(join(benchDir, 'worker.ts'))
  return (spec) => import(pathToFileURL(req.resolve(spec)).href)
}
