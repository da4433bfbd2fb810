/** The client for a contender id (contenders.ts), with the options that make it that contender. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import type { Client } from './client.ts'
import { flClient } from './client-fluent-logger.ts'
import { orgClient } from './client-fluent-org.ts'
import { leanClient } from './client-lean.ts'
import { nativeClient } from './client-native.ts'
import { buildClient, idleClient, spinClient } from './client-references.ts'
import { importer } from './importer.ts'

/** Client side of the TLS scenario: trust the test CA, verify `localhost`, TLS 1.3 only. */
function tlsOptions(benchDir: string): { ca: Buffer; servername: string; minVersion: 'TLSv1.3' } {
  return { ca: readFileSync(join(benchDir, '..', '__test__', 'fixtures', 'tls', 'ca.pem')), servername: 'localhost', minVersion: 'TLSv1.3' }
}

export async function makeClient(id: string, benchDir: string, host: string, port: number, spinNs = 0): Promise<Client> {
  const imp = importer(benchDir)
  // Ack timeouts are raised to fluent-native's 30 s default so that a slow ack under load is measured,
  // not turned into a loss by a 500 ms default.
  switch (id) {
    case 'native':
      return nativeClient(imp, host, port, {})
    case 'native-base':
      if (!process.env.BENCH_BASELINE) throw new Error('native-base needs BENCH_BASELINE=<dir of a built checkout>')
      return nativeClient(imp, host, port, {}, join(process.env.BENCH_BASELINE, 'index.js'))
    case 'native-ack':
      return nativeClient(imp, host, port, { requireAck: true })
    case 'native-gzip':
      return nativeClient(imp, host, port, { compress: 'gzip' })
    case 'native-tls':
      return nativeClient(imp, host, port, { tls: tlsOptions(benchDir) })
    case 'org-tls':
      return orgClient(imp, host, port, { eventMode: 'Forward' }, { tls: tlsOptions(benchDir) })
    case 'org-packed':
      return orgClient(imp, host, port, {})
    case 'org-forward':
      return orgClient(imp, host, port, { eventMode: 'Forward' })
    case 'org-ack':
      return orgClient(imp, host, port, { ack: { ackTimeout: 30_000 } })
    case 'org-gzip':
      return orgClient(imp, host, port, { eventMode: 'CompressedPackedForward' })
    case 'fl-message':
      return flClient(imp, host, port, {})
    case 'fl-packed':
      return flClient(imp, host, port, { eventMode: 'PackedForward' })
    case 'fl-packed-ack':
      return flClient(imp, host, port, {
        eventMode: 'PackedForward',
        requireAckResponse: true,
        ackResponseTimeout: 30_000,
      })
    case 'fl-gzip':
      return flClient(imp, host, port, { eventMode: 'CompressedPackedForward' })
    case 'lean':
      return leanClient(imp, host, port)
    case 'build':
      return buildClient()
    case 'spin':
      if (!(spinNs > 0)) throw new Error('the spin contender needs spinNs (BENCH_SPIN_NS)')
      return spinClient(spinNs)
    case 'idle':
      return idleClient()
    default:
      throw new Error(`unknown contender ${id}`)
  }
}
