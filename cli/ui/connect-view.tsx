/**
 * The live view of `hoop connect`: where to connect, the client command, the time left on the grant, live
 * client connections (from the agent) and the session's statement count (from the gateway). Ctrl-C closes.
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

interface Live {
  expiresAt: string;
  activeClients: number;
  totalClients: number;
  statements: number | null;
  error: string | null;
  /** How the tunnel ended, once the agent says it did. */
  end: TunnelEnd | null;
}

function ConnectView({ ctx, gatewayUrl, grant, tunnel, command, onEnd }: ViewProps): React.JSX.Element {
  const { exit } = useApp();
  const [now, setNow] = useState(() => Date.now());
  const [live, setLive] = useState<Live>({
    expiresAt: tunnel.expires_at, activeClients: tunnel.active_clients, totalClients: tunnel.total_clients, statements: null, error: null, end: null,
  });

  useInput((input, key) => {
    if (input === 'q' || (key.ctrl && input === 'c')) {
      onEnd({ kind: 'interrupted' });
      exit();
    }
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
      setLive((prev) => ({
        expiresAt: t?.expires_at ?? prev.expiresAt,
        activeClients: t?.active_clients ?? 0,
        totalClients: t?.total_clients ?? prev.totalClients,
        statements: sessions ? sessions.reduce((n, s) => n + s.statement_count, 0) : prev.statements,
        error: t?.last_error ?? null,
        end: prev.end ?? (status === undefined ? null : tunnelEnd(tunnel, status, Date.now())),
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

  const left = new Date(live.expiresAt).getTime() - now;
  useEffect(() => {
    if (live.end) {
      onEnd(live.end);
      exit();
    }
  }, [live.end]);

  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text>
        <Text bold>hoop</Text> · tunnel to <Text bold color="cyan">{tunnel.connection}</Text> as {grant.subject}
      </Text>
      <Text> </Text>
      <Text>
        Listening on <Text bold>127.0.0.1:{tunnel.port}</Text>
      </Text>
      <Text>Connect with:</Text>
      <Text color="green">  {command}</Text>
      <Text> </Text>
      <Text>
        Grant {grant.id.slice(0, 8)} · <Text color={left < 5 * 60_000 ? 'yellow' : undefined}>{left > 0 ? `${formatDuration(left)} left` : 'expired'}</Text> (renewed while you are logged in)
      </Text>
      <Text>
        Clients: {live.activeClients} connected, {live.totalClients} total · Statements: {live.statements ?? '…'}
      </Text>
      {live.error ? <Text color="red">Last error: {live.error}</Text> : null}
      {live.end ? <Text color="red">The tunnel has closed.</Text> : null}
      <Text dimColor>Ctrl-C or q closes the tunnel · run with --detach to keep it in the background</Text>
    </Box>
  );
}

/** Shows the live view until Ctrl-C or q, or until the tunnel ends; says which. */
export async function runConnectView(props: Props): Promise<TunnelEnd> {
  let end: TunnelEnd = { kind: 'interrupted' };
  const app = render(<ConnectView {...props} onEnd={(e) => (end = e)} />, { exitOnCtrlC: false, stdout: withTerminalSize(process.stdout) });
  await app.waitUntilExit();
  return end;
}
