// The published manifest: `prepare` (the clone's build) must not ship, since npm 11 warns about it
// when the package is installed; npm's page needs repository, homepage and bugs. Packed with npm
// itself, in a scratch copy of the manifest and scripts/manifest.cjs (the prepack/postpack steps),
// so the repository's package.json is never touched while other tests read it.
import test from 'ava'
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from './child.ts'

const root = fileURLToPath(new URL('..', import.meta.url))

test('npm pack: the packed package.json has no prepare, has repository/homepage/bugs; the clone keeps prepare', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fluent-pack-'))
  const copy = join(dir, 'pkg')
  mkdirSync(join(copy, 'scripts'), { recursive: true })
  cpSync(join(root, 'package.json'), join(copy, 'package.json'))
  cpSync(join(root, 'scripts', 'manifest.cjs'), join(copy, 'scripts', 'manifest.cjs'))
  const before = readFileSync(join(copy, 'package.json'), 'utf8')
  t.truthy(JSON.parse(before).scripts.prepare, 'a clone builds the addon at npm install')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const packed = await run(npm, ['pack', '--silent', '--pack-destination', dir, copy], 120_000)
  t.is(packed.status, 0, packed.stderr)
  const tarball = join(dir, packed.stdout.trim().split('\n').pop() as string)
  const untar = await run('tar', ['xzf', tarball, '-C', dir, 'package/package.json'], 60_000)
  t.is(untar.status, 0, untar.stderr)
  const shipped = JSON.parse(readFileSync(join(dir, 'package', 'package.json'), 'utf8'))
  t.is(shipped.scripts.prepare, undefined)
  t.is(shipped.repository?.url, 'git+https://github.com/fluent-native/fluent-native.git')
  t.truthy(shipped.homepage)
  t.truthy(shipped.bugs?.url)
  // postpack put the clone's manifest back, byte for byte.
  t.is(readFileSync(join(copy, 'package.json'), 'utf8'), before)
})
