/**
 * In-memory storage for one dev IdP instance. oidc-provider ships one too, but using it prints "you MUST change
 * it" on every start, which would alarm people running `hoop demo`; losing state on exit is what the demo wants.
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/example/my_adapter.js
 */

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number };

interface Entry {
  payload: Payload;
  /** Epoch ms; Infinity when the model has no expiry. */
  expiresAt: number;
}

/** Models whose records die with their grant (revocation, refresh token reuse). */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export interface DevAdapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/** Returns the `adapter` factory for the provider configuration; all models of one provider share one store. */
export function createMemoryAdapter(now: () => number = Date.now): (model: string) => DevAdapter {
  const records = new Map<string, Entry>();
  const grants = new Map<string, Set<string>>();
  const byUserCode = new Map<string, string>();
  const byUid = new Map<string, string>();

  const get = (key: string | undefined): Payload | undefined => {
    if (key === undefined) return undefined;
    const entry = records.get(key);
    if (entry && entry.expiresAt <= now()) {
      records.delete(key);
      return undefined;
    }
    return entry?.payload;
  };

  let writes = 0;
  /** Drops expired records and dangling index entries now and then, so a long-running demo does not grow. */
  const sweep = () => {
    const t = now();
    for (const [k, e] of records) if (e.expiresAt <= t) records.delete(k);
    for (const index of [byUserCode, byUid]) for (const [k, v] of index) if (!records.has(v)) index.delete(k);
    for (const [g, members] of grants) {
      for (const m of members) if (!records.has(m)) members.delete(m);
      if (members.size === 0) grants.delete(g);
    }
  };

  return (model) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        if (++writes % 500 === 0) sweep();
        const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : Infinity;
        records.set(key(id), { payload, expiresAt });
        if (GRANTABLE.has(model) && payload.grantId) {
          const members = grants.get(payload.grantId) ?? new Set<string>();
          members.add(key(id));
          grants.set(payload.grantId, members);
        }
        if (payload.userCode) byUserCode.set(payload.userCode, key(id));
        if (model === 'Session' && payload.uid) byUid.set(payload.uid, key(id));
      },
      async find(id) {
        return get(key(id));
      },
      async findByUserCode(userCode) {
        return get(byUserCode.get(userCode));
      },
      async findByUid(uid) {
        return get(byUid.get(uid));
      },
      async consume(id) {
        const payload = get(key(id));
        if (payload) payload.consumed = Math.floor(now() / 1000);
      },
      async destroy(id) {
        records.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const member of grants.get(grantId) ?? []) records.delete(member);
        grants.delete(grantId);
      },
    };
  };
}
