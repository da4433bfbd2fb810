/**
 * Record shapes for `bench`: small, medium and large. The one copy: bench/ (not published) imports
 * these too, so the CLI's figures and the benchmark's are taken on the same records.
 */
export type Shape = 'small' | 'medium' | 'large'

/** 64 KiB of deterministic pseudo-random text; large records take a different 1 KiB window of it. */
const POOL = (() => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/=+()[]{}'
  let seed = 0x2545f491
  let s = ''
  for (let i = 0; i < 64 * 1024; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    s += alphabet[(seed >>> 16) % alphabet.length]
  }
  return s
})()
const WINDOWS = POOL.length - 1024

/** A fresh object per record, as an application builds one per log call. */
export const SHAPES: Record<Shape, (i: number) => object> = {
  small: (i) => ({ level: 'info', msg: 'hello world', n: i, user: 'u123', ok: true }),
  medium: (i) => ({
    level: 'info',
    msg: 'request completed',
    n: i,
    user: 'u123',
    ok: true,
    service: 'checkout-api',
    host: 'ip-10-0-3-17',
    region: 'eu-west-1',
    pid: 4242,
    status: 200,
    method: 'POST',
    path: '/api/v1/orders',
    latencyMs: 12.75,
    bytes: 18234,
    requestId: 'req-7f3c9a1e-2b4d',
    ip: '203.0.113.42',
    ua: 'Mozilla/5.0 (X11; Linux x86_64)',
    cached: false,
    ctx: { tenant: 'acme', plan: 'pro', shard: 7, traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
    tags: ['orders', 'payments', 'eu', 'canary'],
  }),
  // 5 small fields + one 1 KiB string; the string differs per record so that gzip sees varied data.
  large: (i) => {
    const at = (i * 7919) % WINDOWS
    return { level: 'info', msg: 'hello world', n: i, user: 'u123', ok: true, payload: POOL.slice(at, at + 1024) }
  },
}
