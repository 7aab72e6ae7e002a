/**
 * The approver's interactive list: pending reviews they may decide, with requester, connection, statement or
 * duration, reason and age. ↑/↓ select, a approves, r rejects, q quits.
 */
import React, { useEffect, useState } from 'react';
import { Box, Text, render, useApp, useInput } from 'ink';
import type { Review } from '../../shared/api/schemas.js';
import type { CliContext } from '../services/context.js';
import { ago } from './output.js';
import { describeReview } from '../commands/reviews.js';
import { withTerminalSize } from './terminal-size.js';

interface Props {
  ctx: CliContext;
  gatewayUrl: string;
  initial: 'approve' | 'reject';
}

function Picker({ ctx, gatewayUrl, initial }: Props): React.JSX.Element {
  const { exit } = useApp();
  const [reviews, setReviews] = useState<Review[] | null>(null);
  const [selected, setSelected] = useState(0);
  const [message, setMessage] = useState<string>(`Select a review: a approves, r rejects (you ran \`hoop ${initial}\`), q quits.`);
  const [busy, setBusy] = useState(false);

  const load = async (): Promise<void> => {
    const list = (await ctx.gateway(gatewayUrl).reviews({ pending: true })).filter((r) => r.can_decide);
    setReviews(list);
    // Keep the cursor on a row when the list shrinks (a decided review leaves it).
    setSelected((s) => Math.min(s, Math.max(0, list.length - 1)));
  };
  useEffect(() => {
    load().catch((e: unknown) => setMessage(`error: ${(e as Error).message}`));
    const t = setInterval(() => void load().catch(() => undefined), 3000);
    return () => clearInterval(t);
  }, []);

  useInput((input, key) => {
    if (input === 'q' || key.escape || (key.ctrl && input === 'c')) return exit();
    if (!reviews?.length || busy) return;
    if (key.upArrow) setSelected((s) => Math.max(0, s - 1));
    if (key.downArrow) setSelected((s) => Math.min(reviews.length - 1, s + 1));
    if (input === 'a' || input === 'r' || key.return) {
      const decision = input === 'r' || (key.return && initial === 'reject') ? 'reject' : 'approve';
      const r = reviews[Math.min(selected, reviews.length - 1)]!;
      setBusy(true);
      ctx.gateway(gatewayUrl).decideReview(r.id, decision)
        .then((d) => setMessage(`${decision === 'approve' ? 'Approved' : 'Rejected'} ${d.id.slice(0, 8)} (${d.requester} on ${d.connection}): now ${d.status}.`))
        .catch((e: unknown) => setMessage(`error: ${(e as Error).message}`))
        .finally(() => {
          setBusy(false);
          void load();
        });
    }
  });

  const now = ctx.now();
  return (
    <Box flexDirection="column">
      <Text bold>Pending reviews you may decide</Text>
      {reviews === null ? <Text>Loading…</Text> : null}
      {reviews?.length === 0 ? <Text dimColor>None right now. (q quits)</Text> : null}
      {reviews?.map((r, i) => (
        <Box key={r.id} flexDirection="column" marginTop={1}>
          <Text color={i === selected ? 'cyan' : undefined}>
            {i === selected ? '❯ ' : '  '}
            <Text bold>{r.requester}</Text> on <Text bold>{r.connection}</Text> · {ago(r.created_at, now)} · {r.id.slice(0, 8)}
            {r.min_approvals > 1 ? ` · ${r.decisions.length}/${r.min_approvals} approvals` : ''}
          </Text>
          <Text>    {describeReview(r)}</Text>
          {r.reason ? <Text dimColor>    reason: {r.reason}</Text> : null}
        </Box>
      ))}
      <Box marginTop={1}>
        <Text color={message.startsWith('error') ? 'red' : 'green'}>{message}</Text>
      </Box>
    </Box>
  );
}

export async function runReviewPicker(props: Props): Promise<void> {
  const app = render(<Picker {...props} />, { exitOnCtrlC: false, stdout: withTerminalSize(process.stdout) });
  await app.waitUntilExit();
}
