// The ESM entry (index.mjs) re-exports the CommonJS one: every name, the very same objects.
import test from 'ava'
import { createRequire } from 'node:module'

test('index.mjs exports exactly what index.js exports, as the same objects', async (t) => {
  const cjs = createRequire(import.meta.url)('../index.js') as Record<string, unknown>
  const esm = (await import('../index.mjs')) as Record<string, unknown>
  t.deepEqual(Object.keys(esm).sort(), Object.keys(cjs).sort())
  for (const k of Object.keys(cjs)) t.is(esm[k], cjs[k], k)
})
