// The README and the guides are true of the package (issue 30):
// - every relative link and image resolves to a file the published package ships, and every anchor to
//   a heading of that file; links into the repository on GitHub name files that exist;
// - docs/options.md is what scripts/docs-options.cjs generates from the native option table now;
// - every JavaScript example runs, as written, against a real Forward server (FluentServer from
//   @fluent-org/logger) on 127.0.0.1:24224 in a private network namespace whose /etc/hosts points the
//   examples' host names at it. Each example is preceded by a marker saying what it needs:
//   `<!-- example: not run: <why> -->` for infrastructure the test cannot provide (skipped, with the
//   reason required), `sends nothing` or `starts its own receiver` when nothing should reach the
//   test's server; any other marker expects at least one record there.
import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const require = createRequire(import.meta.url)
const GITHUB = 'https://github.com/fluent-native/fluent-native/blob/main/'
const RAW = 'https://raw.githubusercontent.com/fluent-native/fluent-native/main/'
/** Host names the examples use, all pointed at the test's server. */
const HOSTS = ['fluentd', 'fluentd.internal', 'agg-1.logging', 'agg-2.logging', 'agg-dr.logging', 'fluentd.logging.svc.cluster.local']

function packedFiles(): Set<string> {
  // --ignore-scripts: prepack would rewrite package.json while other test files read it.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' })
  return new Set((JSON.parse(out)[0].files as Array<{ path: string }>).map((f) => f.path))
}

const packed = packedFiles()
const markdown = [...packed].filter((p) => p.endsWith('.md')).sort()

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line)
    if (!m) continue
    const slug = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(slug) ?? 0
    seen.set(slug, n + 1)
    out.add(n === 0 ? slug : `${slug}-${n}`)
  }
  return out
}

/** Link and image targets outside code: `[text](target)`, `![alt](target)`, `<img src="target">`. */
function links(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '')
  const out: string[] = []
  for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1])
  for (const m of prose.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)) out.push(m[1])
  return out
}

test('the package ships the README, every guide and the changelog', (t) => {
  const guides = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))
  t.true(guides.length >= 15, guides.join())
  for (const f of ['README.md', 'CHANGELOG.md', ...guides.map((g) => `docs/${g}`)]) t.true(packed.has(f), f)
})

test('every relative link and image resolves in the package; anchors name headings', (t) => {
  const repoFiles = new Set(execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n'))
  let checked = 0
  for (const file of markdown) {
    const text = readFileSync(join(root, file), 'utf8')
    for (const link of links(text)) {
      checked++
      if (link.startsWith(GITHUB) || link.startsWith(RAW)) {
        const path = link.slice(link.startsWith(GITHUB) ? GITHUB.length : RAW.length).split('#')[0]
        t.true(repoFiles.has(path), `${file}: ${link} names no file of the repository`)
        continue
      }
      if (/^[a-z]+:/i.test(link)) continue // another site, mailto:
      const [path, anchor] = link.split('#')
      const target = path === '' ? file : normalize(join(dirname(file), path)).replace(/\\/g, '/')
      if (!packed.has(target)) {
        t.fail(`${file}: ${link} -> ${target} is not in the package`)
        continue
      }
      if (anchor !== undefined && target.endsWith('.md')) {
        const heads = anchors(readFileSync(join(root, target), 'utf8'))
        t.true(heads.has(anchor), `${file}: ${link}: no heading #${anchor} in ${target}`)
      }
    }
  }
  t.true(checked > 50, `only ${checked} links found`)
})

test('docs/options.md is generated from the native option table, and current', (t) => {
  const { render, OUT } = require('../scripts/docs-options.cjs') as { render: () => string; OUT: string }
  t.is(readFileSync(OUT, 'utf8'), render(), 'docs/options.md is stale: run node scripts/docs-options.cjs')
})

test('the README sends a first record within its first 40 lines, and stays under 400', (t) => {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n')
  t.true(lines.length <= 400, `${lines.length} lines`)
  const first = lines.slice(0, 40).join('\n')
  t.regex(first, /npm install fluent-native/)
  t.regex(first, /new FluentClient\(/)
  t.regex(first, /\.emit\(/)
  t.regex(first, /npm run demo/)
  t.regex(first, /npm test/)
})

interface Example {
  file: string
  line: number
  marker: string
  code: string
}

function examples(): Example[] {
  const out: Example[] = []
  for (const file of markdown) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(js|ts|mjs|cjs|javascript|typescript)\s*$/.exec(lines[i])
      if (!open) continue
      const end = lines.indexOf('```', i + 1)
      const marker = /^<!-- example: (.*) -->$/.exec(lines[i - 1] ?? '')?.[1] ?? ''
      out.push({ file, line: i + 1, marker, code: lines.slice(i + 1, end).join('\n') })
      i = end
    }
  }
  return out
}

const all = examples()

test('every JavaScript example says what it needs, and why when it is not run', (t) => {
  t.true(all.length >= 25, `${all.length} examples`)
  for (const ex of all) {
    t.not(ex.marker, '', `${ex.file}:${ex.line}: no <!-- example: ... --> marker`)
    if (ex.marker.startsWith('not run')) t.regex(ex.marker, /^not run: \S.{8,}/, `${ex.file}:${ex.line}: say why`)
  }
})

// Each example runs in its own process, in its own namespaces: a few at a time, bounded.
let running = 0
const waiting: Array<() => void> = []
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((r) => waiting.push(r))
  running++
  try {
    return await fn()
  } finally {
    running--
    waiting.shift()?.()
  }
}

const dir = join(root, '.docs-examples') // inside the package, so `fluent-native` resolves to itself
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
const hosts = join(dir, 'hosts')
writeFileSync(hosts, `127.0.0.1 localhost ${HOSTS.join(' ')}\n::1 localhost\n`)
const runner = join(root, '__test__', 'fixtures', 'docs-example-runner.mjs')

for (const ex of all.filter((e) => !e.marker.startsWith('not run'))) {
  test(`example ${ex.file}:${ex.line} runs (${ex.marker})`, async (t) => {
    const name = `${ex.file.replace(/[/.]/g, '_')}_${ex.line}.mjs`
    // ES module, so `import` and top-level `await` work; `require` too, as in a CommonJS file.
    const source = `import { createRequire as __cr } from 'node:module'\nconst require = __cr(import.meta.url)\n${ex.code}\n`
    writeFileSync(join(dir, name), source)
    const result = await slot(
      () =>
        new Promise<{ code: number | string; stdout: string; stderr: string; events: number }>((resolve, reject) => {
          const cmd = `ip link set lo up && mount --bind ${hosts} /etc/hosts && exec ${process.execPath} ${runner} ${join(dir, name)} ${root}`
          const child = spawn('unshare', ['-mn', 'sh', '-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
          let out = ''
          let err = ''
          child.stdout.on('data', (d) => (out += d))
          child.stderr.on('data', (d) => (err += d))
          child.on('close', () => {
            try {
              resolve(JSON.parse(out))
            } catch {
              reject(new Error(`runner failed: ${out} ${err}`))
            }
          })
        }),
    )
    const where = `${ex.file}:${ex.line}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`
    t.is(result.code, 0, where)
    t.false(/ERR_FLUENT|Error|Warning/.test(result.stderr), where)
    if (/sends nothing|starts its own receiver/.test(ex.marker)) t.is(result.events, 0, where)
    else t.true(result.events > 0, `no record reached the server: ${where}`)
  })
}

test.after.always(() => {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
  void relative
})
