/**
 * A target the gateway holds credentials for, as the engines and grant checks need it (built from the config
 * in main.ts). The password never leaves the gateway.
 */
export interface PostgresTls {
  mode: 'disable' | 'require' | 'verify-full';
  /** PEM contents of the CA bundle for verify-full (absent: the system store). */
  ca?: string;
}

export interface PostgresConnection {
  name: string;
  type: 'postgres';
  description?: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  tls: PostgresTls;
  accessGroups: readonly string[];
  maxDurationMs: number;
  /** Just-in-time access: these groups' grants need an approver first. */
  requireApproval?: { groups: readonly string[]; approvers: readonly string[]; maxDurationMs: number; timeoutMs: number };
  webhookUrl?: string;
  /** Local port the agent listens on by default. */
  defaultLocalPort: number;
}

export type Connection = PostgresConnection;

export class ConnectionCatalog {
  readonly #byName: ReadonlyMap<string, Connection>;

  constructor(connections: readonly Connection[]) {
    this.#byName = new Map(connections.map((c) => [c.name, c]));
  }

  get(name: string): Connection | undefined {
    return this.#byName.get(name);
  }

  all(): Connection[] {
    return [...this.#byName.values()];
  }
}
