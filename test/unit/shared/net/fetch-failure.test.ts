/**
 * One reading of a failed fetch for the CLI, the agent and the gateway: the reason a person reads, and whether
 * the fix is the CA trust or https.
 */
import { describe, expect, it } from 'vitest';
import { fetchFailure } from '../../../../shared/net/fetch-failure.js';

/** What undici rejects with: a TypeError whose cause is the socket or TLS error. */
const failed = (code: string, message = code): Error => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(message), { code }) });

describe('fetchFailure', () => {
  it('names the usual socket failures in words', () => {
    expect(fetchFailure(failed('ECONNREFUSED')).reason).toBe('connection refused');
    expect(fetchFailure(failed('ENOTFOUND')).reason).toBe('host not found');
    expect(fetchFailure(failed('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:443')).reason).toBe('connect EHOSTUNREACH 10.0.0.1:443');
  });

  it('says how long it waited when the timeout fired', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    expect(fetchFailure(timeout, 5000).reason).toBe('no answer within 5 s');
    expect(fetchFailure(timeout).reason).toBe('timed out');
  });

  it('tells an untrusted certificate from other TLS trouble', () => {
    const f = fetchFailure(failed('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'));
    expect(f).toMatchObject({ untrusted: true, reason: 'TLS certificate not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)' });
    expect(fetchFailure(failed('CERT_HAS_EXPIRED', 'certificate has expired'))).toMatchObject({ untrusted: false, reason: 'certificate has expired' });
  });

  it('recognises a server that hung up without answering (plain HTTP to a TLS port)', () => {
    expect(fetchFailure(failed('UND_ERR_SOCKET', 'other side closed')).closedBeforeAnswering).toBe(true);
    expect(fetchFailure(failed('ECONNREFUSED')).closedBeforeAnswering).toBe(false);
  });

  it('falls back to the error\'s own message when there is no cause', () => {
    expect(fetchFailure(new Error('the discovery document names another issuer')).reason).toBe('the discovery document names another issuer');
  });
});
