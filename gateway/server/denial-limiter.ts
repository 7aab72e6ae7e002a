/**
 * How much an unauthenticated caller can make the gateway record. Every refused token used to append an
 * `auth.denied` record; records are never pruned, and a full audit store stops all database access (fail
 * closed), so anyone who could reach the API could fill the disk with `Authorization: Bearer x`.
 *
 * Within a fixed window, each client address gets a few records, and all addresses together a few more; the
 * rest are only counted, and one `auth.denied.suppressed` record per window says how many, from where. A
 * caller can vary nothing but their address, so the map of addresses is capped too: past the cap, new
 * addresses are counted together. Records per window are thus bounded by `total + 1`, and memory by
 * `maxAddresses`.
 */
import type { Logger } from '../../shared/log.js';

export interface DenialLimiterOptions {
  /** Appends one record to the audit chain. */
  record: (type: string, data: Record<string, unknown>) => Promise<void>;
  logger: Logger;
  now?: () => Date;
  windowMs?: number;
  /** Records per address per window. */
  perAddress?: number;
  /** Records per window from all addresses together. */
  total?: number;
  /** Addresses tracked per window; later ones are counted as one. */
  maxAddresses?: number;
}

/** Addresses named in a window's summary record (the busiest). */
const SUMMARY_ADDRESSES = 20;
/** Caller-chosen text (the path) is cut to this many characters before it is recorded. */
export const MAX_RECORDED_TEXT = 200;
const OTHER = 'other';

export class DenialLimiter {
  readonly #o: Required<Omit<DenialLimiterOptions, 'now'>>;
  readonly #now: () => Date;
  #windowStart = 0;
  #recorded = 0;
  #counts = new Map<string, { recorded: number; suppressed: number }>();
  #suppressed = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: DenialLimiterOptions) {
    this.#o = { windowMs: 60_000, perAddress: 3, total: 100, maxAddresses: 1000, ...o };
    this.#now = o.now ?? (() => new Date());
  }

  /**
   * Notes one refused token from `address`: records it while within the limits, else counts it. Resolves once
   * the record (if any) is written; never rejects (a refusal is answered whether or not it could be recorded).
   */
  async denied(address: string | undefined, data: Record<string, unknown>): Promise<void> {
    const now = this.#now().getTime();
    // flush() swaps the window's state before it awaits anything, so concurrent refusals close a window once.
    if (now >= this.#windowStart + this.#o.windowMs) await this.flush();
    let key = address ?? 'unknown';
    if (!this.#counts.has(key) && this.#counts.size >= this.#o.maxAddresses) key = OTHER;
    const c = this.#counts.get(key) ?? { recorded: 0, suppressed: 0 };
    this.#counts.set(key, c);
    if (c.recorded < this.#o.perAddress && this.#recorded < this.#o.total) {
      c.recorded++;
      this.#recorded++;
      await this.#write('auth.denied', { ...data, client_addr: key });
      return;
    }
    c.suppressed++;
    this.#suppressed++;
    // The summary is written when the window closes, even if no other refusal comes to close it.
    if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), Math.max(0, this.#windowStart + this.#o.windowMs - now));
      this.#timer.unref();
    }
  }

  /** Closes the current window: writes its summary record if anything was suppressed, and starts afresh. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const counts = this.#counts;
    const suppressed = this.#suppressed;
    const start = this.#windowStart;
    this.#counts = new Map();
    this.#suppressed = 0;
    this.#recorded = 0;
    this.#windowStart = this.#now().getTime();
    if (suppressed === 0) return;
    const busiest = [...counts.entries()].filter(([, c]) => c.suppressed > 0).sort((a, b) => b[1].suppressed - a[1].suppressed);
    await this.#write('auth.denied.suppressed', {
      window_start: new Date(start).toISOString(),
      window_end: this.#now().toISOString(),
      suppressed,
      addresses: busiest.length,
      busiest: Object.fromEntries(busiest.slice(0, SUMMARY_ADDRESSES).map(([a, c]) => [a, c.suppressed])),
    });
  }

  async #write(type: string, data: Record<string, unknown>): Promise<void> {
    await this.#o.record(type, data).catch((e: unknown) => this.#o.logger.warn('cannot record a refused access token', { type, error: e }));
  }
}

/** Caller-chosen text as it may be recorded: at most {@link MAX_RECORDED_TEXT} characters. */
export function clip(text: string): string {
  return text.length <= MAX_RECORDED_TEXT ? text : `${text.slice(0, MAX_RECORDED_TEXT)}…`;
}
