/** Who is calling, as the gateway established it from a verified token. */
export interface Identity {
  /** Stable subject name shown in grants and the audit log (a username, a client id, or a CI job's subject). */
  subject: string;
  name?: string;
  groups: string[];
  kind: 'user' | 'client' | 'workload';
  issuer: string;
  /** Selected claims kept for the audit trail (never the token itself). */
  claims: Record<string, unknown>;
}

export interface RoleConfig {
  admins: readonly string[];
  auditors: readonly string[];
}

export function rolesOf(identity: Identity, roles: RoleConfig): string[] {
  const out: string[] = [];
  if (identity.groups.some((g) => roles.admins.includes(g))) out.push('admin');
  if (identity.groups.some((g) => roles.auditors.includes(g))) out.push('auditor');
  return out;
}

export function hasRole(identity: Identity, roles: RoleConfig, role: 'admin' | 'auditor'): boolean {
  return rolesOf(identity, roles).includes(role);
}
