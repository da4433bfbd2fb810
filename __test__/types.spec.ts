// The published declarations, as a user's TypeScript sees them: the .d.ts files the package ships
// are copied into a node_modules/fluent-native of a scratch project, and __test__/types/*.ts are
// compiled against them with tsc (Node's types from this repository; our .d.ts checked too, no
// skipLibCheck). Their `@ts-expect-error` lines must all be errors.
import test from 'ava'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from './child.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

/** Every .d.ts under `dir` (relative to the package root). */
function declarations(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.d.ts'))
    .map((f) => join(dir, f))
}

test('the published .d.ts: typed listeners, emit(tag, record) only; every @ts-expect-error is an error', async (t) => {
  const project = mkdtempSync(join(tmpdir(), 'fluent-types-'))
  const pkg = join(project, 'node_modules', 'fluent-native')
  for (const file of ['package.json', 'index.d.ts', 'binding.d.ts', ...declarations('src')]) {
    mkdirSync(dirname(join(pkg, file)), { recursive: true })
    cpSync(join(root, file), join(pkg, file))
  }
  const tests = readdirSync(join(root, '__test__', 'types')).filter((f) => f.endsWith('.ts'))
  for (const f of tests) cpSync(join(root, '__test__', 'types', f), join(project, f))
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')], skipLibCheck: false },
      files: tests,
    }),
  )
  const result = await run(process.execPath, [tsc, '-p', project], 120_000)
  t.is(result.status, 0, result.stdout + result.stderr)
  t.true(tests.length > 0)
})
