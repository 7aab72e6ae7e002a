import { describe, expect, test } from 'vitest';
import { parseTokenExchangeRequest, tokenExchangeResponse } from '../../../../gateway/identity/token-exchange.js';
import type { Grant } from '../../../../shared/api/schemas.js';
import {
  GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_HOOP_GRANT, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT, TokenExchangeResponseSchema,
  tokenExchangeRequestBody,
} from '../../../../shared/api/token-exchange.js';
import { HoopError } from '../../../../shared/errors.js';

const base = {
  grant_type: GRANT_TYPE_TOKEN_EXCHANGE,
  subject_token: 'eyJ.id.token',
  subject_token_type: TOKEN_TYPE_ID_TOKEN,
  audience: 'payments-db',
};

function refusal(body: Record<string, unknown>): HoopError {
  try {
    parseTokenExchangeRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(HoopError);
    return e as HoopError;
  }
  throw new Error('expected a refusal');
}

describe('parseTokenExchangeRequest', () => {
  test.each([
    ['the minimal request', base, { subjectToken: 'eyJ.id.token', subjectTokenType: TOKEN_TYPE_ID_TOKEN, connection: 'payments-db' }],
    ['a jwt subject token type', { ...base, subject_token_type: TOKEN_TYPE_JWT },
      { subjectToken: 'eyJ.id.token', subjectTokenType: TOKEN_TYPE_JWT, connection: 'payments-db' }],
    ['duration and reason', { ...base, duration: '15m', reason: 'deploy migration 42' },
      { subjectToken: 'eyJ.id.token', subjectTokenType: TOKEN_TYPE_ID_TOKEN, connection: 'payments-db', duration: '15m', reason: 'deploy migration 42' }],
    ['requested_token_type grant, unknown and empty fields ignored',
      { ...base, requested_token_type: TOKEN_TYPE_HOOP_GRANT, scope: 'openid', client_id: 'x', duration: '', resource: '' },
      { subjectToken: 'eyJ.id.token', subjectTokenType: TOKEN_TYPE_ID_TOKEN, connection: 'payments-db' }],
  ])('accepts %s', (_name, body, expected) => {
    expect(parseTokenExchangeRequest(body)).toEqual(expected);
  });

  const { grant_type: _g, ...noGrantType } = base;
  const { subject_token: _s, ...noSubjectToken } = base;
  const { subject_token_type: _t, ...noSubjectTokenType } = base;
  const { audience: _a, ...noAudience } = base;

  test.each([
    ['no grant_type', noGrantType, 'invalid_request', `grant_type is missing; expected ${GRANT_TYPE_TOKEN_EXCHANGE}`],
    ['a wrong grant_type', { ...base, grant_type: 'client_credentials' }, 'unsupported_grant_type',
      `grant_type "client_credentials" is not supported; expected ${GRANT_TYPE_TOKEN_EXCHANGE}`],
    ['no subject_token', noSubjectToken, 'invalid_request', 'subject_token is missing; send the workload id_token'],
    ['an empty subject_token', { ...base, subject_token: '' }, 'invalid_request', 'subject_token is missing; send the workload id_token'],
    ['a non-string subject_token (JSON)', { ...base, subject_token: 42 }, 'invalid_request', 'subject_token must be a string'],
    ['no subject_token_type', noSubjectTokenType, 'invalid_request',
      `subject_token_type is missing; expected ${TOKEN_TYPE_ID_TOKEN} or ${TOKEN_TYPE_JWT}`],
    ['an access-token subject', { ...base, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' }, 'invalid_request',
      `subject_token_type "urn:ietf:params:oauth:token-type:access_token" is not supported; expected ${TOKEN_TYPE_ID_TOKEN} or ${TOKEN_TYPE_JWT}`],
    ['an actor token', { ...base, actor_token: 'x', actor_token_type: TOKEN_TYPE_JWT }, 'invalid_request',
      'actor_token is not supported; hoop exchanges the subject token only, without delegation'],
    ['another requested_token_type', { ...base, requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }, 'invalid_request',
      `requested_token_type "urn:ietf:params:oauth:token-type:access_token" is not supported; hoop issues ${TOKEN_TYPE_HOOP_GRANT}`],
    ['a resource', { ...base, resource: 'hoop:connection:payments-db' }, 'invalid_target',
      'resource is not supported; name the connection in audience, e.g. audience=payments-db'],
    ['no audience', noAudience, 'invalid_request', 'audience is missing; set it to the connection name, e.g. audience=payments-db'],
    ['an audience that is no connection name', { ...base, audience: 'https://hoop.example.com' }, 'invalid_target',
      'audience "https://hoop.example.com" is not a connection name (lowercase letters, digits, - and _)'],
    ['a reason too long', { ...base, reason: 'x'.repeat(1001) }, 'invalid_request', 'reason is 1001 characters long; at most 1000 are allowed'],
    ['a duration too long', { ...base, duration: '1'.repeat(40) }, 'invalid_request', `duration "${'1'.repeat(40)}" is not a duration such as 15m or 1h`],
  ])('refuses %s', (_name, body, oauthError, message) => {
    const e = refusal(body);
    expect(e.code).toBe('usage');
    expect(e.message).toBe(message);
    expect(e.details).toEqual({ oauth_error: oauthError });
  });

  test('what the client builds is what the gateway parses', () => {
    const req = { subjectToken: 'eyJ.a.b', connection: 'payments-db', duration: '30m', reason: 'nightly job' };
    expect(parseTokenExchangeRequest(tokenExchangeRequestBody(req))).toEqual({ ...req, subjectTokenType: TOKEN_TYPE_ID_TOKEN });
    const form = new URLSearchParams(tokenExchangeRequestBody({ subjectToken: 't', connection: 'c', subjectTokenType: TOKEN_TYPE_JWT }));
    expect(parseTokenExchangeRequest(Object.fromEntries(form))).toEqual({ subjectToken: 't', subjectTokenType: TOKEN_TYPE_JWT, connection: 'c' });
  });
});

describe('tokenExchangeResponse', () => {
  const grant: Grant = {
    id: 'g_1',
    connection: 'payments-db',
    type: 'postgres',
    subject: 'repo:acme/payments:ref:refs/heads/main',
    groups: ['ci-deployers'],
    issued_at: '2030-01-01T00:00:00.000Z',
    expires_at: '2030-01-01T00:15:00.000Z',
    reason: null,
    token: 'grant.token.sig',
  };

  test('is RFC 8693 §2.2.1 plus the grant, and passes the shared schema', () => {
    const res = tokenExchangeResponse(grant, new Date('2030-01-01T00:00:00.400Z'));
    expect(res).toEqual({
      access_token: 'grant.token.sig',
      issued_token_type: TOKEN_TYPE_HOOP_GRANT,
      token_type: 'N_A',
      expires_in: 899,
      grant,
    });
    expect(TokenExchangeResponseSchema.parse(JSON.parse(JSON.stringify(res)))).toEqual(res);
  });

  test('expires_in never goes negative', () => {
    expect(tokenExchangeResponse(grant, new Date('2031-01-01T00:00:00Z')).expires_in).toBe(0);
  });

  test('a grant without its token is an internal error, not an empty access_token', () => {
    const { token: _t, ...noToken } = grant;
    expect(() => tokenExchangeResponse(noToken)).toThrow(new HoopError('internal', 'grant g_1 has no token to hand out'));
  });

  test('the schema refuses an answer that is not a hoop grant', () => {
    const res = { ...tokenExchangeResponse(grant, new Date('2030-01-01T00:00:00Z')), issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
    expect(TokenExchangeResponseSchema.safeParse(res).success).toBe(false);
  });
});
