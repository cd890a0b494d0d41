/**
 * What the coordinator spends on traffic it has not yet trusted: rate limits on enrollment and
 * connection attempts, bounded pending connections, and an audit that counts repeated refusals instead of
 * writing a row for each (an attacker must not be able to grow the audit log, or the disk, at line rate).
 */

export interface RateLimit {
  /** Tokens refilled per second. */
  perSecond: number;
  /** Tokens available at once. */
  burst: number;
}

export interface CoordinatorLimits {
  /** Enrollment requests, per remote address and in all. */
  enrollPerAddress: RateLimit;
  enrollGlobal: RateLimit;
  /** WebSocket connection attempts (each one is a hello to verify), per remote address and in all. */
  helloPerAddress: RateLimit;
  helloGlobal: RateLimit;
  /** Connections not yet authenticated, per remote address and in all. */
  pendingPerAddress: number;
  pendingGlobal: number;
  /**
   * Invalid round messages an authenticated site may send before it is disconnected: a burst, refilled
   * slowly (a well-behaved site sends a few around a stage's deadline, not hundreds).
   */
  invalidFrames: RateLimit;
  /** After such a disconnection, how long the site's connections are refused. */
  abuseCooldownMs: number;
  /** Repeated refusals are summarised once per window. */
  refusalWindowMs: number;
}

export const DEFAULT_LIMITS: CoordinatorLimits = {
  enrollPerAddress: { perSecond: 0.5, burst: 20 },
  enrollGlobal: { perSecond: 20, burst: 100 },
  helloPerAddress: { perSecond: 5, burst: 60 },
  helloGlobal: { perSecond: 300, burst: 3000 },
  pendingPerAddress: 100,
  pendingGlobal: 1000,
  invalidFrames: { perSecond: 1, burst: 100 },
  abuseCooldownMs: 60_000,
  refusalWindowMs: 60_000,
};

/** A token bucket. */
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly limit: RateLimit,
    now = Date.now(),
  ) {
    this.tokens = limit.burst;
    this.updated = now;
  }

  /** Takes one token if there is one. */
  take(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket is full again (so its entry can be forgotten). */
  full(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.limit.burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.limit.burst,
      this.tokens + ((now - this.updated) / 1000) * this.limit.perSecond,
    );
    this.updated = now;
  }
}

/** A per-key and a global token bucket. Keys whose bucket refilled are forgotten, so memory stays bounded. */
export class RateLimiter {
  private readonly keys = new Map<string, TokenBucket>();
  private readonly global: TokenBucket;

  constructor(
    private readonly perKey: RateLimit,
    global: RateLimit,
  ) {
    this.global = new TokenBucket(global);
  }

  take(key: string, now = Date.now()): boolean {
    if (this.keys.size > 10_000) this.sweep(now);
    let bucket = this.keys.get(key);
    if (!bucket) this.keys.set(key, (bucket = new TokenBucket(this.perKey, now)));
    // The per-key bucket is checked first: one noisy address must not drain the global allowance.
    return bucket.take(now) && this.global.take(now);
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.keys) if (bucket.full(now)) this.keys.delete(key);
  }
}

/** Counts per key with a ceiling on keys, for the summary rows. */
function countInto(counts: Record<string, number>, key: string): void {
  if (key in counts || Object.keys(counts).length < 20) counts[key] = (counts[key] ?? 0) + 1;
  else counts['(others)'] = (counts['(others)'] ?? 0) + 1;
}

interface Pending {
  count: number;
  since: string;
  reasons: Record<string, number>;
  addresses: Record<string, number>;
}

type AuditWriter = (kind: string, siteId: string | null, detail: Record<string, unknown>) => Promise<unknown>;

/**
 * The audit of refusals. The first refusal of a kind (per site) in each window is written at once, in
 * full; the rest of the window's are counted and written as one `refusals-summary` row when the window
 * ends. So a flood costs at most two rows per kind and site per window, and a single refusal is still in
 * the log immediately.
 */
export class RefusalLog {
  private readonly windows = new Map<string, { kind: string; siteId: string | null; repeats?: Pending }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: AuditWriter,
    windowMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), windowMs);
    this.timer.unref();
  }

  record(kind: string, siteId: string | null, detail: { reason: string; remoteAddress: string }): void {
    const key = `${kind}\u0000${siteId ?? ''}`;
    const window = this.windows.get(key);
    if (!window) {
      this.windows.set(key, { kind, siteId });
      void this.write(kind, siteId, detail);
      return;
    }
    const repeats = (window.repeats ??= {
      count: 0,
      since: new Date().toISOString(),
      reasons: Object.create(null) as Record<string, number>,
      addresses: Object.create(null) as Record<string, number>,
    });
    repeats.count++;
    countInto(repeats.reasons, detail.reason.slice(0, 200));
    countInto(repeats.addresses, detail.remoteAddress);
  }

  /** Writes the summaries of the window so far and starts a new one. */
  async flush(): Promise<void> {
    const windows = [...this.windows.values()];
    this.windows.clear();
    await Promise.all(
      windows.flatMap(({ kind, siteId, repeats }) =>
        repeats
          ? [
              this.write('refusals-summary', siteId, {
                of: kind,
                count: repeats.count,
                since: repeats.since,
                until: new Date().toISOString(),
                reasons: repeats.reasons,
                addresses: repeats.addresses,
              }),
            ]
          : [],
      ),
    );
  }

  /** Stops the window timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
