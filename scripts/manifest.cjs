// `prepare: npm run build` builds the addon when someone runs `npm install` in a clone, and must
// not ship: npm 11 warns about it when the package is installed. npm runs this around packing:
//   prepack      node scripts/manifest.cjs strip    package.json without scripts.prepare (kept aside)
//   postpack     node scripts/manifest.cjs postpack put it back, except under `npm publish`, which
//                                                   reads package.json again after packing for the
//                                                   registry's copy of the manifest
//   postpublish  node scripts/manifest.cjs restore  put it back after publishing
// The original is kept as package.json.prepack (not in "files", so never packed).
'use strict'
const { existsSync, readFileSync, renameSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')
const manifest = join(root, 'package.json')
const kept = join(root, 'package.json.prepack')

function strip() {
  const text = readFileSync(manifest, 'utf8')
  const pkg = JSON.parse(text)
  if (pkg.scripts?.prepare === undefined) return
  writeFileSync(kept, text)
  delete pkg.scripts.prepare
  writeFileSync(manifest, JSON.stringify(pkg, null, 2) + '\n')
}

function restore() {
  if (existsSync(kept)) renameSync(kept, manifest)
}

const step = process.argv[2]
if (step === 'strip') strip()
else if (step === 'restore') restore()
else if (step === 'postpack') {
  if (process.env.npm_command !== 'publish') restore()
} else {
  console.error(`manifest.cjs: unknown step "${step}" (strip, postpack or restore)`)
  process.exit(2)
}
