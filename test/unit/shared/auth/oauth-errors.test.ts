import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { OAUTH_STEPS, oauthError } from '../../../../shared/auth/oauth-errors.js';
import { exitCodeFor } from '../../../../shared/errors.js';

const ISSUER = 'https://idp.example.com';

describe('oauthError: what the CLI prints when the identity provider fails', () => {
  it.each(OAUTH_STEPS)('"%s" reads as a whole clause after "while"', (step) => {
    // A verb phrase: "while completing the device login", not "while the device login".
    expect(step).toMatch(/^[a-z]+ing (the|a) [a-z ]+[a-z]$/);
  });

  it.each(OAUTH_STEPS)('an unreachable IdP while %s: a whole sentence, exit 9', (step) => {
    const e = oauthError(step, new TypeError('fetch failed'), ISSUER);
    expect(e.message).toBe(`could not reach the identity provider at ${ISSUER} while ${step}`);
    expect(e.code).toBe('gateway_unreachable');
    expect(exitCodeFor(e.code)).toBe(9);
  });

  it('a refusal names the step and the OAuth error', () => {
    const body = { error: 'invalid_client', error_description: 'client authentication failed' };
    const refusal = new oidc.ResponseBodyError('server responded with an error in the response body', {
      cause: body,
      response: new Response(JSON.stringify(body), { status: 401 }),
    });
    const e = oauthError('revoking the access token', refusal, ISSUER);
    expect(e.message).toBe('the identity provider refused the request while revoking the access token (invalid_client: client authentication failed)');
    expect(e.code).toBe('config_invalid');
  });
});
