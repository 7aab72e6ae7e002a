/**
 * Before a tunnel opens, the agent checks that it can reach the gateway itself. `hoop connect` has just talked to
 * the gateway, but the agent is another process, started earlier and perhaps from another shell: without the CA
 * trust (NODE_EXTRA_CA_CERTS) or the proxy settings that command had, every client would be refused later, while
 * `hoop connect` said the tunnel was open. Any HTTP answer will do (a gateway still starting answers 503).
 */
import { HoopError } from '../shared/errors.js';
import { fetchFailure } from '../shared/net/fetch-failure.js';
import { TRUST_HINT_AGENT } from '../shared/net/tls-trust.js';

export type ProbeGateway = (gatewayUrl: string) => Promise<void>;

type Fetch = (url: string, init: { signal: AbortSignal; redirect: 'manual' }) => Promise<{ body?: { cancel(): Promise<void> } | null }>;

export function createGatewayProbe(o: { fetch?: Fetch; timeoutMs?: number } = {}): ProbeGateway {
  const fetchImpl: Fetch = o.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = o.timeoutMs ?? 5000;
  return async (gatewayUrl) => {
    const url = `${gatewayUrl.replace(/\/+$/, '')}/healthz`;
    try {
      const res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.body?.cancel().catch(() => undefined);
    } catch (e) {
      const f = fetchFailure(e, timeoutMs);
      if (f.untrusted) {
        throw new HoopError('gateway_unreachable', `the agent cannot reach the gateway at ${gatewayUrl}: its TLS certificate is not trusted (${f.code})`, {
          cause: e, hint: TRUST_HINT_AGENT,
        });
      }
      throw new HoopError('gateway_unreachable', `the agent cannot reach the gateway at ${gatewayUrl}: ${f.reason}`, {
        cause: e,
        hint: 'the agent runs with the environment of the command that started it: if this shell has other proxy or CA '
          + 'settings, run `hoop agent stop` and `hoop connect` again',
      });
    }
  };
}
