/**
 * What the gateway says at start about `roles`. No group holds a role unless the config names it (see the schema),
 * so a gateway started without `roles.admins` runs, but some things cannot be done there; the log says which.
 */
import type { GatewayConfig } from './schema.js';

export function roleWarnings(roles: GatewayConfig['roles']): string[] {
  if (roles.admins.length > 0) return [];
  const readers = roles.auditors.length > 0
    ? 'only auditors can read sessions and the audit log'
    : 'nobody can read sessions or the audit log (roles.auditors is empty too)';
  return [
    'no admin group is configured (roles.admins is empty): nobody can list everyone\'s grants, see or revoke '
    + `another user's grant, or see every review; ${readers}. Set roles.admins to the IdP group of hoop's administrators`,
  ];
}
