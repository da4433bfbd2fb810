#!/usr/bin/env node
// Writes docs/options.md from the two places options are defined, so the page cannot drift:
// - names, kinds, ranges and defaults from the native option table (optionSpecs() of the addon,
//   crates/fluent-forward/src/options.rs), the table the option checks themselves read;
// - the TS type and the prose from the TSDoc of the option interfaces in src/types.ts (what the
//   API reference shows too).
// An option in the native table with no TSDoc, or a TSDoc'd option the page would not show, is an
// error, so a new option cannot ship undocumented. `--check` exits 1 if docs/options.md is stale
// (__test__/docs.spec.ts runs the same comparison).
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const ts = require('typescript')

const root = path.join(__dirname, '..')
const OUT = path.join(root, 'docs', 'options.md')

/** The guide that explains an option or group in depth (a link from its row). */
const GUIDES = {
  host: 'servers.md',
  port: 'servers.md',
  path: 'servers.md',
  mode: 'records.md#wire-forms',
  compress: 'records.md#compression',
  compressionLevel: 'records.md#compression',
  requireAck: 'delivery.md',
  maxBufferBytes: 'delivery.md#memory',
  overflow: 'delivery.md#overflow',
  maxBatchAttempts: 'delivery.md#a-rejected-record-never-blocks-the-rest',
  exitFlushTimeoutMs: 'delivery.md#exit',
  tls: 'security.md',
  security: 'security.md',
  handshakeTimeoutMs: 'security.md',
  breaker: 'servers.md',
  servers: 'servers.md',
  heartbeat: 'servers.md',
  heartbeatIntervalMs: 'servers.md',
  dnsTtlMs: 'servers.md',
  errorHandler: 'failure-handler.md',
  errorHandlerMaxBytes: 'failure-handler.md',
  spool: 'spool.md',
  errorHandlerTimeoutMs: 'failure-handler.md',
}

/** Option groups written as `group.key` in the native table, and the interface that declares them. */
const CALLS = { flush: 'FlushOptions', close: 'CloseOptions' }

function loadInterfaces() {
  const file = path.join(root, 'src', 'types.ts')
  const program = ts.createProgram([file], { strict: true, skipLibCheck: true, noEmit: true, types: [] })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(file)
  const interfaces = new Map()
  for (const node of source.statements) {
    if (!ts.isInterfaceDeclaration(node)) continue
    const members = new Map()
    for (const m of node.members) {
      if (!ts.isPropertySignature(m) || !m.name) continue
      const sym = checker.getSymbolAtLocation(m.name)
      const doc = sym ? ts.displayPartsToString(sym.getDocumentationComment(checker)) : ''
      members.set(m.name.getText(source), { type: m.type ? m.type.getText(source).replace(/\s+/g, ' ') : '', doc })
    }
    interfaces.set(node.name.text, members)
  }
  return interfaces
}

function loadSpecs() {
  // The built addon; `npm run build` (or build:debug) makes it.
  const { optionSpecs } = require(path.join(root, 'binding.js'))
  return new Map(optionSpecs().map((s) => [s.name, s]))
}

const KIB = 1024
function bytes(n) {
  for (const [unit, size] of [['TiB', KIB ** 4], ['GiB', KIB ** 3], ['MiB', KIB ** 2], ['KiB', KIB]]) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`
  }
  return `${n} B`
}
function millis(n) {
  if (n === 86_400_000) return '1 day'
  if (n >= 60_000 && n % 60_000 === 0) return `${n / 60_000} min`
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000} s`
  return `${n} ms`
}
function quantity(name, n) {
  if (/Bytes$/.test(name)) return bytes(n)
  if (/Ms$/.test(name)) return millis(n)
  return String(n)
}

function defaultOf(name, spec) {
  if (!spec) return ''
  if (spec.defaultNumber !== undefined && spec.defaultNumber !== null) {
    const q = quantity(name, spec.defaultNumber)
    return q === String(spec.defaultNumber) ? `\`${spec.defaultNumber}\`` : `\`${spec.defaultNumber}\` (${q})`
  }
  if (spec.defaultBoolean !== undefined && spec.defaultBoolean !== null) return `\`${spec.defaultBoolean}\``
  if (spec.defaultText !== undefined && spec.defaultText !== null) return `\`'${spec.defaultText}'\``
  return ''
}

function rangeOf(name, spec) {
  if (!spec) return ''
  if (spec.kind === 'integer') return `${quantity(name, spec.min)} to ${quantity(name, spec.max)}`
  if (spec.kind === 'pem') return 'PEM, string or Buffer'
  if (spec.kind === 'string') return 'non-empty'
  if (spec.kind === 'enum') return spec.values.map((v) => `\`'${v}'\``).join(', ')
  return ''
}

/** TSDoc to one table cell: `{@link X}` as code, paragraphs and lines joined. */
function cell(doc) {
  return doc
    .replace(/\{@link\s+([^}\s|]+)(?:\s*\|\s*([^}]+))?\}/g, (_, target, text) => `\`${text ?? target}\``)
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|')
    .trim()
}

function row(label, member, spec, guide, unit = label.split('.').pop()) {
  if (!member || !member.doc) throw new Error(`docs-options: ${label} has no TSDoc in src/types.ts`)
  const see = guide ? ` ([more](${guide}))` : ''
  const secret = spec && spec.secret && !/never echoed/i.test(member.doc) ? ' Never echoed.' : ''
  return `| \`${label}\` | \`${member.type.replace(/\|/g, '\\|')}\` | ${defaultOf(unit, spec)} | ${rangeOf(unit, spec)} | ${cell(member.doc)}${secret}${see} |`
}

function render() {
  const specs = loadSpecs()
  const ifaces = loadInterfaces()
  const used = new Set()
  const take = (name) => {
    used.add(name)
    return specs.get(name)
  }
  const header = ['| option | type | default | range | meaning |', '|---|---|---|---|---|']
  const client = ifaces.get('FluentClientOptions')
  const flat = [...header]
  const groups = []
  for (const [name, member] of client) {
    const groupKeys = [...specs.keys()].filter((k) => k.startsWith(`${name}.`))
    if (groupKeys.length > 0 || /Options\b/.test(member.type)) {
      flat.push(row(name, member, undefined, GUIDES[name] ?? `#${name.toLowerCase()}`))
      const ifaceName = member.type.match(/(\w+Options)\b/)?.[1]
      const iface = ifaces.get(ifaceName)
      if (!iface) throw new Error(`docs-options: no interface ${ifaceName} for ${name}`)
      const rows = [...header]
      for (const [key, sub] of iface) {
        // A server entry's host/port/path follow the client-wide options' rules.
        const spec = specs.has(`${name}.${key}`) ? take(`${name}.${key}`) : specs.get(key)
        rows.push(row(`${name}.${key}`, sub, spec))
      }
      groups.push({ name, ifaceName, doc: member.doc, rows })
    } else {
      flat.push(row(name, member, take(name), GUIDES[name]))
    }
  }
  const calls = []
  for (const [call, ifaceName] of Object.entries(CALLS)) {
    const iface = ifaces.get(ifaceName)
    for (const [key, sub] of iface) calls.push(row(`${call}({ ${key} })`, sub, take(`${call}.${key}`), undefined, key))
  }
  const missing = [...specs.keys()].filter((k) => !used.has(k))
  if (missing.length) throw new Error(`docs-options: options in the native table not on the page: ${missing.join(', ')}`)

  const out = [
    '<!-- GENERATED by scripts/docs-options.cjs from the native option table and src/types.ts: do not edit; run `node scripts/docs-options.cjs`. -->',
    '',
    '# Options',
    '',
    'Every option of `new FluentClient(options)` is optional. Each is checked when the client is made:',
    'an unknown key (a typo) is `ERR_FLUENT_CONFIG` naming the nearest valid one, a wrong type is',
    '`ERR_FLUENT_CONFIG` (nothing is coerced: `timeAsInteger: \'no\'` is refused), and every number is',
    'range-checked. Names, types, ranges and defaults are defined once, in the Rust option table',
    '(`crates/fluent-forward/src/options.rs`), which the checks read and this page is generated from.',
    'The pino transport, `destination()`, the winston transport and `toWritable()` take the same options',
    '(see [pino](pino.md), [winston](winston.md), [streams](streams.md)).',
    '',
    ...flat,
    '',
  ]
  for (const g of groups) {
    out.push(`## ${g.name}`, '', `\`${g.name}\`: ${cell(g.doc)} (\`${g.ifaceName}\`)`, '', ...g.rows, '')
  }
  out.push('## flush and close', '', 'Per call; a bad value throws `ERR_FLUENT_CONFIG` synchronously.', '', ...header, ...calls, '')
  return out.join('\n')
}

module.exports = { render, OUT }

if (require.main === module) {
  const text = render()
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : ''
    if (current !== text) {
      console.error('docs/options.md is stale: run `node scripts/docs-options.cjs`')
      process.exit(1)
    }
  } else {
    fs.writeFileSync(OUT, text)
    console.log(`wrote ${path.relative(root, OUT)}`)
  }
}
