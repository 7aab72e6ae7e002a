/** `hoop reviews`, `hoop approve`, `hoop reject`, `hoop request`. */
import type { Command } from 'commander';
import { HoopError } from '../../shared/errors.js';
import { formatSpan } from '../../shared/duration.js';
import type { Review } from '../../shared/api/schemas.js';
import type { CliContext } from '../services/context.js';
import { decisionError, giveBackGrant, waitForDecision } from '../services/grants.js';
import { ago, table } from '../ui/output.js';
import { insecureHttpOption } from '../services/gateway-url.js';

export function describeReview(r: Review): string {
  if (r.kind === 'statement') return oneLine(r.statement ?? '') + (r.parameters?.length ? `  -- params ${JSON.stringify(r.parameters)}` : '');
  return `access for ${formatSpan((r.duration_seconds ?? 0) * 1000)}`;
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 80 ? t.slice(0, 77) + '…' : t;
}

export function registerReviews(program: Command, ctx: () => CliContext): void {
  program
    .command('reviews')
    .description('list reviews: statements held for approval and access requests (yours, and those you may decide)')
    .option('--pending', 'only those still waiting for a decision')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .action(async (opts: { pending?: boolean; gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const list = await c.gateway(c.gatewayUrl(opts)).reviews({ pending: opts.pending === true });
      if (opts.json) return c.out.json({ reviews: list });
      if (list.length === 0) return c.out.print(opts.pending ? 'No pending reviews.' : 'No reviews.');
      const now = c.now();
      c.out.print(table(
        ['ID', 'STATUS', 'REQUESTER', 'CONNECTION', 'WHAT', 'REASON', 'AGE'],
        list.map((r) => [r.id, r.status + (r.can_decide ? '*' : ''), r.requester, r.connection, describeReview(r), r.reason ?? '', ago(r.created_at, now)]),
      ));
      if (list.some((r) => r.can_decide)) c.out.print('\n* you may decide: hoop approve <id> | hoop reject <id>');
    });

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(decision === 'approve'
        ? 'approve a review (with no id on a terminal: pick from the pending ones)'
        : 'reject a review (with no id on a terminal: pick from the pending ones)')
      .argument('[id]', 'the review id (see `hoop reviews --pending`)')
      .option('--comment <text>', 'a comment recorded with your decision')
      .option('--gateway <url>', 'the gateway URL')
      .addOption(insecureHttpOption())
      .option('--json', 'print JSON')
      .addHelpText('after', `
Approvers are members of the groups the rule names; nobody decides their own review. A statement review with
min_approvals: 2 needs two different approvers. The waiting session learns of the decision within a second.`)
      .action(async (id: string | undefined, opts: { comment?: string; gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
        const c = ctx();
        const gatewayUrl = c.gatewayUrl(opts);
        if (!id) {
          if (!process.stdin.isTTY || !process.stdout.isTTY) {
            throw new HoopError('usage', `name the review to ${decision}`, { hint: 'list them with `hoop reviews --pending`' });
          }
          const { runReviewPicker } = await import('../ui/review-picker.js');
          await runReviewPicker({ ctx: c, gatewayUrl, initial: decision });
          return;
        }
        const r = await c.gateway(gatewayUrl).decideReview(id, decision, opts.comment);
        if (opts.json) return c.out.json({ review: r });
        const verb = decision === 'approve' ? 'Approved' : 'Rejected';
        const left = r.status === 'pending' ? ` (${r.decisions.filter((d) => d.decision === 'approve').length} of ${r.min_approvals} approvals so far)` : '';
        // The statement may end in its own `;`: the status is set apart, so no doubled punctuation.
        c.out.print(`${verb} review ${r.id}: ${r.requester} on ${r.connection}: ${describeReview(r)}`);
        c.out.print(`Status: ${r.status}${left}.`);
      });
  }

  program
    .command('request')
    .description('ask for just-in-time access to a connection and wait for an approver')
    .argument('<connection>', 'the connection name')
    .requiredOption('--reason <text>', 'why you need access (shown to the approver)')
    .option('--duration <d>', 'how long, e.g. 30m, 2h (at most the connection\'s require_approval.max_duration)')
    .option('--no-wait', 'return at once with the review id')
    .option('--gateway <url>', 'the gateway URL')
    .addOption(insecureHttpOption())
    .option('--json', 'print JSON')
    .addHelpText('after', `
Once approved, \`hoop connect <connection>\` uses the approval: the grant lasts for the approved window,
counted from the approval. \`hoop connect\` also asks and waits by itself when access needs approval.`)
    .action(async (connection: string, opts: { reason: string; duration?: string; wait: boolean; gateway?: string; insecureHttp?: boolean; json?: boolean }) => {
      const c = ctx();
      const gatewayUrl = c.gatewayUrl(opts);
      const noApproval = (): void => {
        if (opts.json) return c.out.json({ approval_needed: false });
        c.out.print(`Access to ${connection} needs no approval for you: use \`hoop connect ${connection}\`.`);
      };
      // Asked first, so that no grant is issued (and recorded) only to be given back. A connection not listed
      // (unknown, or not yours) goes on to the request, whose refusal says why.
      const listed = (await c.gateway(gatewayUrl).connections()).find((x) => x.name === connection);
      if (listed && !listed.requires_approval) return noApproval();
      const out = await c.gateway(gatewayUrl).requestGrant({ connection, reason: opts.reason, ...(opts.duration ? { duration: opts.duration } : {}) });
      if ('grant' in out) {
        // The rules changed since the list was read: no approval needed after all, so the gateway issued a grant
        // at once. `hoop connect` gets its own, so this one is given back rather than left live and unused.
        await giveBackGrant(c, gatewayUrl, out.grant.id);
        return noApproval();
      }
      const r = out.review;
      if (opts.json && !opts.wait) return c.out.json({ review: r });
      c.out.info(`Review ${r.id} is waiting for ${r.approver_groups.join(' or ')}: they run \`hoop approve ${r.id}\`.`);
      if (!opts.wait) return c.out.print(r.id);
      const decided = await waitForDecision(c, gatewayUrl, r, {});
      if (opts.json) c.out.json({ review: decided });
      if (decided.status !== 'approved') throw decisionError(decided);
      if (!opts.json) c.out.print(`Approved. Run \`hoop connect ${connection}\` to use it.`);
    });
}
