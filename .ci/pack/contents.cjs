// `npm pack --dry-run --json` of the main package: what must ship, and what must not.
'use strict'
const files = JSON.parse(require('node:fs').readFileSync(0, 'utf8'))[0].files.map((f) => f.path)
const must = ['package.json', 'README.md', 'index.js', 'index.mjs', 'index.d.ts', 'binding.js', 'binding.d.ts', 'src/client.js', 'src/client.d.ts', 'src/receiver.js', 'src/metrics.js', 'src/metrics.d.ts', 'src/diagnostics.js', 'src/cli/main.js', 'docs/recipes.md', 'docs/options.md', 'CHANGELOG.md']
const mustNot = [
  [/^(typedoc\.json|api-docs\/|\.docs-examples\/|CONTRIBUTING\.md)/, 'contributor files'],
  [/\.node$/, 'native binaries (they live in the platform packages)'],
  [/(?<!\.d)\.ts$/, 'TypeScript sources'],
  [/^(__test__|bench|crates|scripts|\.ci|\.github|\.cargo|target|npm|pack)\//, 'tests, benches, Rust and CI'],
  [/^(Cargo\.(toml|lock)|rustfmt\.toml|tsconfig\.json|demo\.js|package-lock\.json)$/, 'build and demo files'],
]
const problems = []
for (const f of must) if (!files.includes(f)) problems.push(`missing: ${f}`)
for (const f of files) for (const [re, what] of mustNot) if (re.test(f)) problems.push(`must not ship (${what}): ${f}`)
if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
console.log(`npm pack contents: ${files.length} files, as expected`)
