/**
 * The live view of `hoop connect`: where to connect, the client command, the time left on the grant, live
 * client connections (from the agent) and the session's statement count (from the gateway). Ctrl-C closes.
 *
 * Its last frame stays on the screen once the view ends, so that frame says what is true then: once the tunnel
 * has closed it names how the grant ended, and claims no time left, no connected clients and no keys to press.
 */
import React, { useEffect, useState } from 'react';
import { Box, Text, render, useApp, useInput } from 'ink';
import { formatDuration } from '../../shared/duration.js';
import type { Grant } from '../../shared/api/schemas.js';
import type { TunnelInfo } from '../../shared/api/agent-control.js';
import type { CliContext } from '../services/context.js';
import { tunnelEnd, type TunnelEnd } from '../services/tunnel-watch.js';
import { withTerminalSize } from './terminal-size.js';

interface Props {
  ctx: CliContext;
  gatewayUrl: string;
  grant: Grant;
  tunnel: TunnelInfo;
  command: string;
}

interface ViewProps extends Props {
  onEnd: (end: TunnelEnd) => void;
}

export interface Live {
  expiresAt: string;
  activeClients: number;
  totalClients: number;
  statements: number | null;
  error: string | null;
  /** How the tunnel ended (the agent says so), or that its user closes it (Ctrl-C, q). */
  end: TunnelEnd | null;
}

export interface FrameProps {
  connection: string;
  subject: string;
  port: number;
  command: string;
  grantId: string;
  live: Live;
  now: number;
}

/** Fits 80 columns inside the frame's border and padding (4 columns). */
export const KEYS_HINT = 'Ctrl-C or q closes the tunnel · --detach keeps it in the background';

/** What became of the grant, for the last frame: as far as the agent told. */
function grantEnded(end: TunnelEnd): string {
  switch (end.kind) {
    case 'interrupted':
      return 'given back as the tunnel closes';
    case 'gone':
      return 'no longer used by this tunnel';
    case 'ended':
      return end.state === 'refused' ? 'no longer accepted by the gateway' : end.state;
  }
}

function closedLine(end: TunnelEnd): string {
  if (end.kind === 'interrupted') return 'Closing the tunnel…';
  return end.kind === 'gone' ? `The tunnel has closed: ${end.why}.` : 'The tunnel has closed.';
}

/** One frame of the view, from what is known now. */
export function ConnectFrame({ connection, subject, port, command, grantId, live, now }: FrameProps): React.JSX.Element {
  const left = new Date(live.expiresAt).getTime() - now;
  const { end } = live;
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text>
        <Text bold>hoop</Text> · tunnel to <Text bold color="cyan">{connection}</Text> as {subject}
      </Text>
      <Text> </Text>
      {end ? (
        <Text>No longer listening on 127.0.0.1:{port}</Text>
      ) : (
        <>
          <Text>
            Listening on <Text bold>127.0.0.1:{port}</Text>
          </Text>
          <Text>Connect with:</Text>
          <Text color="green">  {command}</Text>
        </>
      )}
      <Text> </Text>
      {end ? (
        <Text>
          Grant {grantId.slice(0, 8)} · <Text color={end.kind === 'ended' ? 'red' : undefined}>{grantEnded(end)}</Text>
        </Text>
      ) : (
        <Text>
          Grant {grantId.slice(0, 8)} · <Text color={left < 5 * 60_000 ? 'yellow' : undefined}>{left > 0 ? `${formatDuration(left)} left` : 'expired'}</Text> (renewed while you are logged in)
        </Text>
      )}
      <Text>
        Clients: {end ? '' : `${live.activeClients} connected, `}{live.totalClients} total · Statements: {live.statements ?? '…'}
      </Text>
      {live.error ? <Text color="red">Last error: {live.error}</Text> : null}
      {end ? <Text color={end.kind === 'interrupted' ? undefined : 'red'}>{closedLine(end)}</Text> : <Text dimColor>{KEYS_HINT}</Text>}
    </Box>
  );
}

function ConnectView({ ctx, gatewayUrl, grant, tunnel, command, onEnd }: ViewProps): React.JSX.Element {
  const { exit } = useApp();
  const [now, setNow] = useState(() => Date.now());
  const [live, setLive] = useState<Live>({
    expiresAt: tunnel.expires_at, activeClients: tunnel.active_clients, totalClients: tunnel.total_clients, statements: null, error: null, end: null,
  });

  useInput((input, key) => {
    // Through the state, so the last frame, drawn before the view exits, says the tunnel is closing.
    if (input === 'q' || (key.ctrl && input === 'c')) setLive((prev) => ({ ...prev, end: prev.end ?? { kind: 'interrupted' } }));
  });

  useEffect(() => {
    const tick = setInterval(() => setNow(Date.now()), 1000);
    let stopped = false;
    const poll = async (): Promise<void> => {
      // null: the agent is gone; undefined: it did not answer this time.
      const status = await ctx.agent().status().catch((e: unknown) => ((e as { code?: string }).code === 'agent_unavailable' ? null : undefined));
      const t = status?.tunnels.find((x) => x.connection === tunnel.connection);
      const sessions = await ctx.gateway(gatewayUrl).sessions({ grant: grant.id, limit: 1000 }).catch(() => null);
      if (stopped) return;
      setLive((prev) => (prev.end ? prev : {
        expiresAt: t?.expires_at ?? prev.expiresAt,
        activeClients: t?.active_clients ?? 0,
        totalClients: t?.total_clients ?? prev.totalClients,
        statements: sessions ? sessions.reduce((n, s) => n + s.statement_count, 0) : prev.statements,
        error: t?.last_error ?? null,
        end: status === undefined ? null : tunnelEnd(tunnel, status, Date.now()),
      }));
    };
    void poll();
    const p = setInterval(() => void poll(), 2000);
    return () => {
      stopped = true;
      clearInterval(tick);
      clearInterval(p);
    };
  }, []);

  useEffect(() => {
    if (live.end) {
      onEnd(live.end);
      exit();
    }
  }, [live.end]);

  return <ConnectFrame connection={tunnel.connection} subject={grant.subject} port={tunnel.port} command={command} grantId={grant.id} live={live} now={now} />;
}

/** Shows the live view until Ctrl-C or q, or until the tunnel ends; says which. */
export async function runConnectView(props: Props): Promise<TunnelEnd> {
  let end: TunnelEnd = { kind: 'interrupted' };
  const app = render(<ConnectView {...props} onEnd={(e) => (end = e)} />, { exitOnCtrlC: false, stdout: withTerminalSize(process.stdout) });
  await app.waitUntilExit();
  return end;
}
