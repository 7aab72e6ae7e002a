/** `hoop grants`, `hoop revoke <grant-id>`. */
import type { Command } from 'commander';
import type { CliContext } from '../services/context.js';
import { ago, table } from '../ui/output.js';
import { clockTime } from '../ui/time.js';
import { insecureHttpOption } from '../services/gateway-url.js';

export function registerGrants(program: Command, ctx: () => CliContext): void {
  program
    .command('grants')
    .description('list your grants (admins: --all for everyone\'s)')
    .option('--all', 'everyone\'s grants (admins)')
    .option('--active', 'only grants that are neither expired nor revoked')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; active?: boolean; gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const grants = await c.gateway(c.gatewayUrl(opts)).grants({ all: opts.all === true, active: opts.active === true });
      if (opts.json) return c.out.json({ grants });
      if (grants.length === 0) return c.out.print('No grants.');
      const now = c.now();
      c.out.print(table(
        ['ID', 'USER', 'CONNECTION', 'ISSUED', 'STATE', 'REASON'],
        grants.map((g) => [
          g.id,
          g.subject,
          g.connection,
          ago(g.issued_at, now),
          g.revoked_at ? 'revoked' : new Date(g.expires_at) <= now ? 'expired' : `until ${clockTime(g.expires_at, now)}`,
          g.reason ?? '',
        ]),
      ));
    });

  program
    .command('revoke')
    .description('revoke a grant now: its live tunnels close within seconds (your own, or anyone\'s as an admin)')
    .argument('<grant-id>', 'the grant id (from `hoop grants`)')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const { grant: g, alreadyRevoked } = await c.gateway(c.gatewayUrl(opts)).revokeGrant(id);
      if (opts.json) return c.out.json({ grant: g, already_revoked: alreadyRevoked });
      if (alreadyRevoked) {
        c.out.print(`Grant ${g.id} (${g.subject} on ${g.connection}) was already revoked${g.revoked_at ? ` at ${clockTime(g.revoked_at, c.now())}` : ''}; nothing changed.`);
        return;
      }
      c.out.print(`Revoked grant ${g.id} (${g.subject} on ${g.connection}).`);
    });
}
