#!/usr/bin/env node
/** `npx fluent-native <command>`: cat, receive, bench. */
import { bench, BENCH_HELP } from './bench.js'
import { cat, CAT_HELP } from './cat.js'
import { receive, RECEIVE_HELP } from './receive.js'
import { EXIT, UsageError, similar } from './args.js'

const HELP = `usage: fluent-native <command> [options]

Commands:
  cat <tag> [file...]   send JSON lines (or msgpack, or text) from stdin or files to a Forward server
  receive               listen and print what arrives, as JSON lines
  bench                 a quick throughput run against a server (or an in-process receiver)

Run "fluent-native <command> --help" (or -h) for a command's options. fluent-cat's -h (the host)
is --host here.`

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  cat: { run: cat, help: CAT_HELP },
  receive: { run: receive, help: RECEIVE_HELP },
  bench: { run: bench, help: BENCH_HELP },
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS[rest[0] ?? ''] : undefined
    process.stdout.write((topic?.help ?? HELP) + '\n')
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  if (name === '--version') {
    process.stdout.write(require('../../package.json').version + '\n')
    return EXIT.ok
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    const guess = similar(name, Object.keys(COMMANDS))?.slice(2)
    throw new UsageError(`unknown command "${name}"${guess === undefined ? '' : ` (did you mean "${guess}"?)`}`)
  }
  return command.run(rest)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`fluent-native ${e.message}\nRun "fluent-native --help" for usage.\n`)
      process.exitCode = EXIT.usage
    } else {
      const err = e as { code?: string; message?: string }
      process.stderr.write(`fluent-native: ${err?.code ? `${err.code}: ` : ''}${err?.message ?? String(e)}\n`)
      process.exitCode = 1
    }
  },
)
