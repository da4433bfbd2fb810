// The README and the guides are true of the package (issue 30):
// - every relative link and image resolves to a file the published package ships, and every anchor to
//   a heading of that file; links into the repository on GitHub name files that exist;
// - docs/options.md is what scripts/docs-options.cjs generates from the native option table now;
// - every JavaScript example runs, as written, against a real Forward server (FluentServer from
//   @fluent-org/logger) on 127.0.0.1:24224 in a private network namespace whose /etc/hosts points the
//   examples' host names at it. Each example is preceded by a marker saying what it needs:
//   `<!-- example: not run: <why> -->` for infrastructure the test cannot provide (skipped, with the
//   reason required), `sends nothing` or `starts its own receiver` when nothing should reach the
//   test's server; any other marker expects at least one record there;
// - every shell command (```sh blocks, and `npx fluent-native ...` in the prose) runs as written, in
//   such a namespace too, and shows what its comment says (SHELL below), or SHELL says why it cannot
//   run; even then its npm scripts, files and environment variables must exist.
import test from 'ava'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encode } from '@msgpack/msgpack'

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

/**
 * Runs `script` with `sh -c` in a private mount and network namespace (`unshare -mn`), `args` as
 * its $1.., and parses the one JSON value the runner it starts prints.
 */
function inNamespace<T>(script: string, args: string[] = []): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = spawn('unshare', ['-mn', 'sh', '-c', script, 'sh', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
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
  })
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
        inNamespace<{ code: number | string; stdout: string; stderr: string; events: number }>(
          `ip link set lo up && mount --bind ${hosts} /etc/hosts && exec ${process.execPath} ${runner} ${join(dir, name)} ${root}`,
        ),
    )
    const where = `${ex.file}:${ex.line}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`
    t.is(result.code, 0, where)
    t.false(/ERR_FLUENT|Error|Warning/.test(result.stderr), where)
    if (/sends nothing|starts its own receiver/.test(ex.marker)) t.is(result.events, 0, where)
    else t.true(result.events > 0, `no record reached the server: ${where}`)
  })
}

// Shell examples: every command of a ```sh/```bash/```shell/```console block, and every inline
// `npx fluent-native cat|receive|bench ...` of the prose, is either run (below, with what it must
// show) or listed with why it cannot be. A chain `a && b` is two commands. A command missing from
// SHELL fails the test, and so does an entry no doc holds any more.

interface ShellResult {
  code: number | string
  stillRunning: boolean
  stdout: string
  stderr: string
  events: number
  sample: Array<{ tag: string; time: number | [number, number]; record: Record<string, unknown> }>
}

type Assert = Parameters<Parameters<typeof test>[1]>[0]

interface ShellRun {
  /** At 0.0.0.0:24224 beside the command: a FluentServer, or the bundled FluentReceiver (zstd). */
  server?: 'forward' | 'receiver'
  /** The receiver's events reported in full (`sample`), not only counted. */
  records?: boolean
  /** The command is the server: the README's terminal-2 record is sent to it once it listens. */
  send?: boolean
  /** It runs until stopped: SIGINT, as Ctrl-C, once its stdout matches and the server has the events. */
  serves?: { stdout?: string; events?: number }
  check: (t: Assert, r: ShellResult) => void
}

/** The input files the docs' commands read, in the directory each command runs in. */
const INPUT: Record<string, string | Uint8Array> = {
  'app.log.json': '{"level":"info","msg":"started","port":8080}\n[1767225600,{"level":"warn","msg":"slow request","ms":1250}]\n{"level":"error","msg":"db down"}\n',
  'plain.txt': 'plain text line\nsecond line\n',
  'dump.msgpack': Buffer.concat([encode({ ts: 1767225600, msg: 'a' }), encode({ ts: '2026-01-01T00:00:01.5Z', msg: 'b' })]),
}
/** Addresses the docs' commands name, made local in the namespace (the server listens on 0.0.0.0). */
const ADDRESSES = ['10.0.0.5']

const HELLO = { tag: 'app.hello', record: { msg: 'hello', user: 42 } }
/** `receive`: still listening when stopped, the record on stdout, Ctrl-C's counts on stderr, exit 0. */
function received(t: Assert, r: ShellResult, line: (stdout: string) => void): void {
  t.true(r.stillRunning, r.stderr)
  t.is(r.code, 0, r.stderr)
  line(r.stdout)
  t.regex(r.stderr, /listening on 127\.0\.0\.1:24224/)
  t.regex(r.stderr, /: 1 events in 1 requests over 1 connection\(s\), 1 acks/)
}
function benchLine(shape: string, server: RegExp): RegExp {
  return new RegExp(`^1000000 ${shape} records in [\\d.]+ s: \\d+ events/s, [\\d.]+ µs CPU per event \\(${server.source}\\)\\n$`)
}
const exitsCleanly = (t: Assert, r: ShellResult) => {
  t.is(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`)
  t.false(/ERR_FLUENT|Error|Warning/.test(r.stderr), r.stderr)
}

const SHELL: Record<string, ShellRun | { notRun: string }> = {
  'npm install': { notRun: 'installs the dependencies from the npm registry and builds the addon (prepare): the test has no network, and runs in a tree where this was done' },
  'npm test': { notRun: 'the whole suite, Rust and JS, this test included: minutes; CI runs it' },
  'npm install fluent-native': { notRun: 'installs from the npm registry, which the test cannot reach; package.spec.ts checks what npm pack ships' },
  'npm run build': { notRun: 'compiles the Rust addon in release mode: minutes, and the test runs on a built tree' },
  'npm run build:sink': { notRun: 'compiles fluent-sink (Rust), the benchmarks’ receiver: minutes' },
  'npm run bench:service': { notRun: 'the service benchmark: about 9 minutes, on a quiet machine' },
  'SERVICE_ROUNDS=5 SERVICE_PLACEMENTS=pinned npm run bench:service': { notRun: 'the service benchmark with more rounds: longer still' },
  'SERVICE_BASELINE=/path/to/other/built/checkout npm run bench:service': { notRun: 'needs a second built checkout to compare with, and minutes' },
  'node --import @oxc-node/core/register bench/perf.ts': { notRun: 'the burst benchmark: minutes, on a quiet machine' },
  'BENCH_BASELINE=/path/to/other/built/checkout BENCH_ONLY=native,native-base,org-forward BENCH_SHAPES=small,medium BENCH_PHASES=throughput BENCH_REPEATS=5 BENCH_OUT=burst node --import @oxc-node/core/register bench/index.ts':
    { notRun: 'needs a second built checkout to compare with, and minutes' },
  'BENCH_REPEATS=5 node --import @oxc-node/core/register bench/spool.ts': { notRun: 'the spool benchmark: minutes, on a quiet machine' },
  'npm run demo': {
    check: (t, r) => {
      exitsCleanly(t, r)
      t.regex(r.stdout, /^started the bundled FluentReceiver on 127\.0\.0\.1:\d+$/m)
      t.regex(r.stdout, /the receiver decoded 1004 events in \d+ requests/)
    },
  },
  'npx fluent-native receive': {
    send: true,
    serves: { stdout: 'app\\.hello' },
    check: (t, r) =>
      received(t, r, (stdout) => {
        // README: Terminal 1 prints {"tag":"app.hello","time":[seconds,nanoseconds],"record":{"msg":"hello","user":42}}
        const line = JSON.parse(stdout)
        t.deepEqual({ tag: line.tag, record: line.record }, HELLO)
        t.true(Array.isArray(line.time) && line.time.length === 2 && line.time.every(Number.isInteger), stdout)
      }),
  },
  'npx fluent-native receive --port 24224 --pretty': {
    send: true,
    serves: { stdout: 'user' },
    check: (t, r) =>
      received(t, r, (stdout) => {
        t.regex(stdout, /app\.hello/)
        t.regex(stdout, /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/) // an ISO time, for people
        t.true(stdout.trim().split('\n').length > 1, 'indented') // not one JSON line
      }),
  },
  'echo \'{"msg":"hi"}\' | npx fluent-native cat app.hello': {
    server: 'forward',
    check: (t, r) => {
      exitsCleanly(t, r)
      t.deepEqual(r.sample.map((e) => [e.tag, e.record]), [['app.hello', { msg: 'hi' }]])
    },
  },
  'tail -F app.log.json | npx fluent-native cat app.log --host 10.0.0.5 --ack --zstd': {
    server: 'receiver',
    records: true,
    serves: { events: 3 },
    check: (t, r) => {
      t.true(r.stillRunning, `tail -F keeps the pipe open: ${r.stderr}`)
      t.deepEqual(
        r.sample.map((e) => [e.tag, e.record]),
        [
          ['app.log', { level: 'info', msg: 'started', port: 8080 }],
          ['app.log', { level: 'warn', msg: 'slow request', ms: 1250 }],
          ['app.log', { level: 'error', msg: 'db down' }],
        ],
      )
      t.deepEqual(r.sample[1].time, [1767225600, 0], "Fluent Bit's [time, object]")
    },
  },
  'npx fluent-native cat --format none --message-key log app.text < plain.txt': {
    server: 'forward',
    check: (t, r) => {
      exitsCleanly(t, r)
      t.deepEqual(r.sample.map((e) => [e.tag, e.record]), [
        ['app.text', { log: 'plain text line' }],
        ['app.text', { log: 'second line' }],
      ])
    },
  },
  'npx fluent-native cat --msgpack app.mp dump.msgpack --time-key ts': {
    server: 'forward',
    check: (t, r) => {
      exitsCleanly(t, r)
      t.deepEqual(r.sample, [
        { tag: 'app.mp', time: [1767225600, 0], record: { msg: 'a' } },
        { tag: 'app.mp', time: [1767225601, 500_000_000], record: { msg: 'b' } },
      ])
    },
  },
  'npx fluent-native bench --records 1000000': {
    check: (t, r) => {
      exitsCleanly(t, r)
      t.regex(r.stdout, benchLine('small', /in-process FluentReceiver on 127\.0\.0\.1:\d+/))
    },
  },
  'npx fluent-native bench --records 1000000 --shape medium': {
    check: (t, r) => {
      exitsCleanly(t, r)
      t.regex(r.stdout, benchLine('medium', /in-process FluentReceiver on 127\.0\.0\.1:\d+/))
    },
  },
  'npx fluent-native bench --records 1000000 --shape medium --ack --zstd --port 24224': {
    server: 'receiver',
    check: (t, r) => {
      exitsCleanly(t, r)
      t.regex(r.stdout, benchLine('medium', /127\.0\.0\.1:24224, ack, zstd/))
      t.true(r.events >= 1_000_000, `${r.events} events`) // at least once: a resend may repeat some
    },
  },
}

interface Shell {
  command: string
  places: string[]
}

/** The docs' shell commands, each once, with where it appears. */
function shellCommands(): { commands: Map<string, Shell>; untagged: string[] } {
  const commands = new Map<string, Shell>()
  const untagged: string[] = []
  const add = (command: string, place: string) => {
    const key = command.replace(/\s+/g, ' ').trim()
    if (key === '') return
    const entry = commands.get(key) ?? { command: command.trim(), places: [] }
    entry.places.push(place)
    commands.set(key, entry)
  }
  for (const file of markdown) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n')
    for (let i = 0; i < lines.length; i++) {
      const open = /^```(\w*)\s*$/.exec(lines[i])
      if (!open) {
        const prose = lines[i].replace(/``[^`]*``/g, '')
        for (const m of prose.matchAll(/`((?:echo [^`|]*\| *)?npx fluent-native (?:cat|receive|bench)\b[^`]*)`/g)) add(m[1], `${file}:${i + 1}`)
        continue
      }
      const end = lines.indexOf('```', i + 1)
      const body = lines.slice(i + 1, end)
      const lang = open[1]
      if (lang === '' && body.some((l) => /^(\$ |npm |npx |node )/.test(l))) untagged.push(`${file}:${i + 1}`)
      if (['sh', 'bash', 'shell', 'console'].includes(lang)) {
        // A console block's commands are its `$ ` lines. Comments dropped, continuation lines joined.
        let line = ''
        let first = 0
        body.forEach((raw, k) => {
          if (lang === 'console' && !raw.startsWith('$ ') && line === '') return
          if (line === '') first = i + 2 + k
          line += (lang === 'console' && line === '' ? raw.slice(2) : raw).replace(/(^|\s)#.*$/, '')
          if (line.endsWith('\\')) line = line.slice(0, -1) + ' '
          else {
            for (const part of line.split(/\s&&\s/)) add(part, `${file}:${first}`)
            line = ''
          }
        })
      }
      i = end
    }
  }
  return { commands, untagged }
}

const shell = shellCommands()

/** The code the docs' commands run, where their environment variables must be read. */
const sources = ['bench', 'scripts', 'src']
  .flatMap((d) => readdirSync(join(root, d), { recursive: true, encoding: 'utf8' }).map((f) => join(root, d, f)))
  .filter((f) => /\.(ts|cjs|mjs|sh)$/.test(f))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n')

/** What any command, run or not, must be true of: its npm scripts, files and environment variables exist. */
function staleParts(command: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const out: string[] = []
  for (const m of command.matchAll(/\bnpm run ([\w:.-]+)/g)) if (pkg.scripts[m[1]] === undefined) out.push(`no npm script ${m[1]}`)
  for (const m of command.matchAll(/(?:^|\s)([\w.-]+(?:\/[\w.-]+)+\.(?:ts|js|mjs|cjs))(?=\s|$)/g)) if (!existsSync(join(root, m[1]))) out.push(`no file ${m[1]}`)
  for (const m of command.matchAll(/(?:^|\s)([A-Z][A-Z0-9_]*)=/g)) if (!sources.includes(m[1])) out.push(`nothing reads ${m[1]}`)
  return out
}
test('every shell command of the docs is run, or says why it cannot be; none is stale', (t) => {
  t.true(shell.commands.size >= 20, `${shell.commands.size} commands`)
  t.deepEqual(shell.untagged, [], 'a fenced block of commands without a language: tag it sh')
  for (const [key, { places }] of shell.commands) {
    const plan = SHELL[key]
    t.not(plan, undefined, `${places.join(', ')}: \`${key}\` is neither run nor listed as not run in docs.spec.ts SHELL`)
    if (plan !== undefined && 'notRun' in plan) t.regex(plan.notRun, /\S.{20,}/, `${key}: say why it is not run`)
    t.deepEqual(staleParts(key), [], `${places.join(', ')}: ${key}`)
  }
  for (const key of Object.keys(SHELL)) t.true(shell.commands.has(key), `SHELL lists \`${key}\`, which no doc holds any more`)
})

const shellRunner = join(root, '__test__', 'fixtures', 'docs-shell-runner.mjs')
let shellDirs = 0
for (const [key, { command, places }] of shell.commands) {
  const plan = SHELL[key]
  if (plan === undefined || 'notRun' in plan) continue
  test(`shell example runs: ${key} (${places.join(', ')})`, async (t) => {
    const cwd = join(dir, `shell-${shellDirs++}`)
    mkdirSync(cwd, { recursive: true })
    for (const [name, content] of Object.entries(INPUT)) writeFileSync(join(cwd, name), content)
    const runnerPlan = JSON.stringify({ command, server: plan.server, records: plan.records, send: plan.send, serves: plan.serves !== undefined, until: plan.serves ?? {} })
    const setup = ['ip link set lo up', ...ADDRESSES.map((a) => `ip addr add ${a}/32 dev lo`), `mount --bind ${hosts} /etc/hosts`].join(' && ')
    const result = await slot(
      () =>
        inNamespace<ShellResult>(`${setup} && exec "${process.execPath}" "${shellRunner}" "$1" "$2" "$3"`, [runnerPlan, root, cwd]),
    )
    plan.check(t, result)
  })
}
test.after.always(() => {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true })
  void relative
})
