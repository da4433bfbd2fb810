// Runs a Node script in a child process (for tests about process exit) and collects its output.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** `require` of this package, for the scripts. */
export const requireClient = `const lib = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))})`

export interface Run {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs `cmd args`; SIGKILLed at `timeoutMs` so a hung exit fails the test instead of hanging it. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    // 'close', not 'exit': output may still be in flight when the process has exited.
    child.on('close', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stdout, stderr })
    })
  })
}

/** Runs `code` with `node -e` (see `run`). */
export function runNode(code: string, timeoutMs = 30_000): Promise<Run> {
  return run(process.execPath, ['-e', code], timeoutMs)
}
