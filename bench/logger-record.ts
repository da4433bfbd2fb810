/**
 * The medium logger record of bench/logger.ts and bench/encoder-ab.ts: 15 fields bound once (the
 * medium record's context, plus version and env), a message, and the fields each call adds.
 */
export const BOUND = {
  service: 'checkout-api',
  version: '1.4.2',
  env: 'production',
  host: 'ip-10-0-3-17',
  region: 'eu-west-1',
  pid: 4242,
  user: 'u123',
  ok: true,
  method: 'POST',
  path: '/api/v1/orders',
  requestId: 'req-7f3c9a1e-2b4d',
  ip: '203.0.113.42',
  ua: 'Mozilla/5.0 (X11; Linux x86_64)',
  ctx: { tenant: 'acme', plan: 'pro', shard: 7, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
  tags: ['orders', 'payments', 'eu', 'canary'],
}
export const MSG = 'request completed'
/** What each call adds to the bound fields. */
export const perCall = (i: number) => ({ n: i, status: 200, latencyMs: 12.75, bytes: 18234, cached: false })
