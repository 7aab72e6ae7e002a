/**
 * Continuations for paged reads of the audit log. Reading the evidence is itself evidence, so the first page of
 * a read is recorded (`audit.read`); later pages of the same read are not, but only when they present the
 * continuation the gateway issued with the page before. A continuation is an HMAC over the reader, the read's
 * id, the next seq and an expiry: it cannot be made up, moved to another seq, or used by someone else. A page
 * without a valid one is recorded as a new read, so a `page` flag, a forged or an expired continuation only
 * ever adds records.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/** Long enough for a slow page; a read that pauses longer is recorded again when it resumes. */
const TTL_MS = 15 * 60_000;
const FORMAT = /^v1\.([0-9a-f-]{36})\.(\d{1,16})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;

export class ReadContinuations {
  readonly #key: Buffer;
  readonly #now: () => Date;

  constructor(key: Buffer, now: () => Date) {
    this.#key = key;
    this.#now = now;
  }

  /**
   * Keyed by the gateway's signing key (through HKDF, for this use only), so every instance sharing a database
   * accepts the others' continuations, and none survives a key rotation.
   */
  static fromSigningKey(privateKey: KeyObject, now: () => Date): ReadContinuations {
    const ikm = privateKey.export({ format: 'der', type: 'pkcs8' });
    return new ReadContinuations(Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), 'hoop audit read continuation v1', 32)), now);
  }

  /** The continuation for the page that starts at `nextSeq` of read `readId` by `reader`. */
  issue(reader: string, readId: string, nextSeq: number): string {
    const expires = this.#now().getTime() + TTL_MS;
    return `v1.${readId}.${nextSeq}.${expires}.${this.#mac(reader, readId, nextSeq, expires).toString('base64url')}`;
  }

  /** The read a continuation belongs to, if it is genuine, unexpired, `reader`'s and for the page at `fromSeq`. */
  verify(token: string, reader: string, fromSeq: number): { readId: string } | undefined {
    const m = FORMAT.exec(token);
    if (!m) return undefined;
    const [, readId, seq, exp, mac] = m;
    const nextSeq = Number(seq);
    const expires = Number(exp);
    if (nextSeq !== fromSeq || expires <= this.#now().getTime()) return undefined;
    const want = this.#mac(reader, readId!, nextSeq, expires);
    const got = Buffer.from(mac!, 'base64url');
    return got.length === want.length && timingSafeEqual(got, want) ? { readId: readId! } : undefined;
  }

  #mac(reader: string, readId: string, nextSeq: number, expires: number): Buffer {
    // JSON: unambiguous whatever characters the subject holds.
    return createHmac('sha256', this.#key).update(JSON.stringify(['audit.read', reader, readId, nextSeq, expires])).digest();
  }
}
