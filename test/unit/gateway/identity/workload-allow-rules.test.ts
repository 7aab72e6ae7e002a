import { describe, expect, test } from 'vitest';
import { checkAllowRules, matchesGlob } from '../../../../gateway/identity/workload.js';

describe('matchesGlob', () => {
  test.each([
    ['acme/payments', 'acme/payments', true],
    ['acme/payments', 'acme/payments2', false],
    ['acme/payments', 'Acme/payments', false],
    ['acme/payments', 'acme/payment', false],
    ['acme/*', 'acme/payments', true],
    ['acme/*', 'acme/', true],
    ['acme/*', 'acme', false],
    ['acme/*', 'acmeevil/x', false],
    ['refs/heads/release/*', 'refs/heads/release/1.2', true],
    ['refs/heads/release/*', 'refs/heads/release/v2/hotfix', true],
    ['refs/heads/release/*', 'refs/heads/releases/1', false],
    ['refs/heads/release/*', 'refs/heads/release', false],
    ['*', '', true],
    ['*', 'anything:at/all', true],
    ['', '', true],
    ['', 'x', false],
    ['repo:acme/*:ref:refs/heads/main', 'repo:acme/web:ref:refs/heads/main', true],
    ['repo:acme/*:ref:refs/heads/main', 'repo:acme/web:ref:refs/heads/dev', false],
    ['*/payments', 'acme/payments', true],
    ['*-prod', 'eu-prod', true],
    ['*-prod', 'eu-prod-2', false],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b*c', 'aXcYb', false],
    ['**', 'x', true],
    ['release-?', 'release-1', false],
    ['release-?', 'release-?', true],
    ['[ab]', 'a', false],
    ['a.c', 'abc', false],
  ])('%j matches %j: %s', (pattern, value, expected) => {
    expect(matchesGlob(pattern, value)).toBe(expected);
  });

  test('many stars against a long value stays fast (no exponential backtracking)', () => {
    const started = performance.now();
    expect(matchesGlob(`${'a*'.repeat(30)}b`, 'a'.repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('checkAllowRules', () => {
  const claims = { repository: 'acme/payments', ref: 'refs/heads/main', workflow: 'deploy', run_id: 42 };

  test.each([
    ['every rule met', { repository: ['acme/payments'], ref: ['refs/heads/main'] }, undefined],
    ['one of several patterns', { repository: ['acme/web', 'acme/pay*'] }, undefined],
    ['repository refused', { repository: ['acme/web'] }, 'workload repository "acme/payments" is not allowed (allowed: acme/web)'],
    ['second rule refused', { repository: ['acme/*'], workflow: ['release', 'hotfix'] },
      'workload workflow "deploy" is not allowed (allowed: release, hotfix)'],
    ['missing claim', { environment: ['production'] }, 'workload token has no environment claim (allowed: production)'],
    ['empty pattern list allows nothing', { repository: [] }, 'workload repository "acme/payments" is not allowed (allowed: )'],
    ['an undefined rule is no rule', { repository: undefined, ref: ['refs/heads/*'] }, undefined],
  ])('%s', (_name, allow, expected) => {
    expect(checkAllowRules(claims, allow)).toBe(expected);
  });

  test('a claim that is not a string fails its rule', () => {
    expect(checkAllowRules({ sub: ['x'] }, { sub: ['x'] })).toBe('workload sub claim is not a string (allowed: x)');
  });

  test('a value with control characters is escaped in the message', () => {
    expect(checkAllowRules({ ref: 'refs/heads/x\n\u001b[31m' }, { ref: ['refs/heads/main'] }))
      .toBe('workload ref "refs/heads/x\\n\\u001b[31m" is not allowed (allowed: refs/heads/main)');
  });
});
