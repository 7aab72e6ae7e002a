/**
 * One account per subject name. hoop owns grants, reviews, sessions and audit records by the subject name a
 * token gives (identity.username_claims: `preferred_username`, `email`, then `sub`), which some identity
 * providers let users change, and which a client id or a CI job's subject could also take. The first account
 * (issuer and `sub`) to present a name is bound to it in the state database; a token of another account that
 * presents the same name is refused, so renaming yourself "bob" does not give you bob's grants, reviews or
 * sessions, nor let you approve your own request under a second name.
 *
 * Bindings are cached for a few minutes (they change only when an operator releases a name).
 */
import { HoopError } from '../../shared/errors.js';
import type { Queryable } from '../store/db.js';
import type { Identity } from './identity.js';

const CACHE_MS = 5 * 60_000;
const CACHE_MAX = 10_000;

/** The account behind an identity: its issuer and stable id (`sub`; a CI job's subject when it has none). */
function accountOf(id: Identity): { issuer: string; sub: string } {
  const sub = id.claims.sub;
  return { issuer: id.issuer, sub: typeof sub === 'string' && sub !== '' ? sub : id.subject };
}

export class SubjectBindings {
  readonly #db: Queryable;
  readonly #now: () => number;
  /** subject → "issuer sub" of its account, and when that was read. */
  readonly #cache = new Map<string, { owner: string; at: number }>();

  constructor(db: Queryable, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Binds the identity's subject to its account if the name is free; throws `access_denied` if another account
   * holds it. On any doubt (the database cannot answer) the identity is refused too.
   */
  async check(id: Identity): Promise<void> {
    const account = accountOf(id);
    const owner = `${account.issuer} ${account.sub}`;
    const cached = this.#cache.get(id.subject);
    if (cached && cached.owner === owner && this.#now() - cached.at < CACHE_MS) return;
    let bound: { issuer: string; sub: string } | undefined;
    try {
      const r = await this.#db.query<{ issuer: string; sub: string }>(
        `WITH claimed AS (
           INSERT INTO subject_bindings (subject, issuer, sub, kind) VALUES ($1, $2, $3, $4)
           ON CONFLICT (subject) DO NOTHING RETURNING issuer, sub
         )
         SELECT issuer, sub FROM claimed UNION ALL SELECT issuer, sub FROM subject_bindings WHERE subject = $1 LIMIT 1`,
        [id.subject, account.issuer, account.sub, id.kind],
      );
      bound = r.rows[0];
    } catch (e) {
      // The state database is the audit store too: without it nothing could be recorded either.
      throw new HoopError('audit_unavailable', 'the gateway could not check which account owns this name; try again shortly', { cause: e });
    }
    if (!bound || bound.issuer !== account.issuer || bound.sub !== account.sub) {
      throw new HoopError('access_denied', `the name "${id.subject}" belongs to another account of the identity provider; hoop refuses it, so that no one takes over another's grants, reviews and records`, {
        hint: 'if the identity provider re-created your account, ask an operator to release the name (docs/security.md, "Who you are")',
        // `name_bound`: the API records it as a refused identity (api.ts), limited like every other.
        details: { subject: id.subject, issuer: account.issuer, sub: account.sub, reason: NAME_BOUND },
      });
    }
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(id.subject, { owner, at: this.#now() });
  }

  /** `verify` with every identity it returns checked against the bindings. */
  guard<A extends unknown[]>(verify: (...args: A) => Promise<Identity>): (...args: A) => Promise<Identity> {
    return async (...args: A) => {
      const id = await verify(...args);
      await this.check(id);
      return id;
    };
  }
}

/** `details.reason` of the refusal of a name bound to another account. */
export const NAME_BOUND = 'name_bound';

/** Whether `e` refuses an identity, as a refused token does: either way the caller is not who it says. */
export function isRefusedIdentity(e: unknown): e is HoopError {
  return e instanceof HoopError && (e.code === 'token_invalid' || (e.code === 'access_denied' && e.details?.reason === NAME_BOUND));
}
