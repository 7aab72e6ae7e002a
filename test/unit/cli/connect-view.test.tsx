/**
 * The frames of `hoop connect`'s live view at the classic 80 columns. The last frame stays on the screen after
 * the view ends, so once the tunnel has closed it must not claim time left, connected clients or keys to press.
 */
import React from 'react';
import { renderToString } from 'ink';
import { describe, expect, it } from 'vitest';
import { ConnectFrame, type FrameProps, type Live } from '../../../cli/ui/connect-view.js';
import type { TunnelEnd } from '../../../cli/services/tunnel-watch.js';

const NOW = Date.parse('2026-11-22T07:00:00Z');
const COMMAND = 'psql "postgresql://alice@127.0.0.1:5433/shop?sslmode=disable"';

function frame(live: Partial<Live> = {}): string {
  const props: FrameProps = {
    connection: 'shop', subject: 'alice', port: 5433, command: COMMAND, grantId: '2e342236-7f0e-4b6e-9d1c-1f2a3b4c5d6e', now: NOW,
    live: { expiresAt: new Date(NOW + 49 * 60_000 + 7_000).toISOString(), activeClients: 1, totalClients: 1, statements: 3, error: null, end: null, ...live },
  };
  // ANSI colours out: the text is what a person reads.
  // eslint-disable-next-line no-control-regex
  return renderToString(<ConnectFrame {...props} />, { columns: 80 }).replace(/\u001b\[[0-9;]*m/g, '');
}

/** The lines inside the frame's border, trimmed. */
function inside(text: string): string[] {
  return text.split('\n').slice(1, -1).map((l) => l.replace(/^│\s?/, '').replace(/\s?│$/, '').trim());
}

function expectFits(text: string): void {
  for (const line of text.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(80);
}

describe('the live view while the tunnel is open', () => {
  it('shows the address, the command, the time left, the clients and the keys, every line within 80 columns', () => {
    const text = frame();
    expectFits(text);
    expect(inside(text)).toEqual([
      'hoop · tunnel to shop as alice',
      '',
      'Listening on 127.0.0.1:5433',
      'Connect with:',
      COMMAND,
      '',
      'Grant 2e342236 · 49m 7s left (renewed while you are logged in)',
      'Clients: 1 connected, 1 total · Statements: 3',
      'Ctrl-C or q closes the tunnel · --detach keeps it in the background',
    ]);
  });
});

describe('the last frame, once the tunnel has closed', () => {
  const cases: Array<[string, TunnelEnd, string | null, string, string]> = [
    ['revoked', { kind: 'ended', state: 'revoked', why: 'the grant was revoked' }, 'the grant was revoked', 'Grant 2e342236 · revoked', 'The tunnel has closed.'],
    ['expired', { kind: 'ended', state: 'expired', why: 'grant expired' }, 'grant expired', 'Grant 2e342236 · expired', 'The tunnel has closed.'],
    ['refused', { kind: 'ended', state: 'refused', why: 'access to the connection was withdrawn' }, 'access to the connection was withdrawn',
      'Grant 2e342236 · no longer accepted by the gateway', 'The tunnel has closed.'],
    ['replaced', { kind: 'gone', why: 'another `hoop connect` replaced it' }, null, 'Grant 2e342236 · no longer used by this tunnel',
      'The tunnel has closed: another `hoop connect` replaced it.'],
    ['closed by its user (q)', { kind: 'interrupted' }, null, 'Grant 2e342236 · given back as the tunnel closes', 'Closing the tunnel…'],
  ];

  for (const [name, end, error, grantLine, closed] of cases) {
    it(`${name}: says how the grant ended, with no time left, connected clients or keys`, () => {
      const text = frame({ end, error, activeClients: 1 });
      expectFits(text);
      const lines = inside(text);
      expect(lines).toContain(grantLine);
      expect(lines).toContain('Clients: 1 total · Statements: 3');
      expect(lines.at(-1)).toBe(closed);
      if (error) expect(lines).toContain(`Last error: ${error}`);
      expect(lines).toContain('No longer listening on 127.0.0.1:5433');
      expect(text).not.toMatch(/\bleft\b|connected|Ctrl-C|q closes|Listening on|Connect with/);
    });
  }
});
