import { describe, expect, it } from 'vitest';
import { expandHome, resolveSecretRefs } from '../../../../gateway/config/secrets.js';

const files: Record<string, string> = {
  '/run/secrets/db': 'file-secret\n',
  '/run/secrets/two-newlines': 'pw\n\n',
  '/run/secrets/crlf': 'pw\r\n',
  '/etc/hoop/relative.pw': 'relative-secret',
  '/home/ann/pw': 'home-secret\n',
};

function readFile(path: string): string {
  const v = files[path];
  if (v === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
  return v;
}

const opts = { env: { DB_PW: 'env-secret', EMPTY: '' }, readFile, homeDir: '/home/ann', baseDir: '/etc/hoop' };

describe('resolveSecretRefs', () => {
  it.each([
    ['${env:DB_PW}', 'env-secret'],
    ['${file:/run/secrets/db}', 'file-secret'],
    ['${file:/run/secrets/two-newlines}', 'pw\n'],
    ['${file:/run/secrets/crlf}', 'pw'],
    ['${file:relative.pw}', 'relative-secret'],
    ['${file:~/pw}', 'home-secret'],
    ['postgres://hoop:${env:DB_PW}@db:5432/hoop', 'postgres://hoop:env-secret@db:5432/hoop'],
    ['literal $${env:DB_PW}', 'literal ${env:DB_PW}'],
    ['no reference', 'no reference'],
  ])('%s → %s', (input, expected) => {
    const r = resolveSecretRefs({ a: { b: [input] } }, opts);
    expect(r.problems).toEqual([]);
    expect(r.value).toEqual({ a: { b: [expected] } });
  });

  it('percent-encodes a secret put in the user or password of a URL, and nothing else', () => {
    const env = { PW: 'pa/ss#w?rd@%!', USER: 'ann@corp', HOST: 'db.internal:6543', WHOLE: 'postgres://u:p@h/d' };
    const files2: Record<string, string> = { '/run/a@b/pw': 's3cret#1\n' };
    const r = resolveSecretRefs({
      url: 'postgres://hoop:${env:PW}@db:5432/hoop',
      both: 'postgres://${env:USER}:${file:/run/a@b/pw}@${env:HOST}/hoop?application_name=${env:PW}',
      whole: '${env:WHOLE}',
      text: 'not a url ${env:PW}',
    }, { ...opts, env, readFile: (p: string) => files2[p] ?? readFile(p) });
    expect(r.problems).toEqual([]);
    expect(r.value).toEqual({
      url: 'postgres://hoop:pa%2Fss%23w%3Frd%40%25!@db:5432/hoop',
      both: 'postgres://ann%40corp:s3cret%231@db.internal:6543/hoop?application_name=pa/ss#w?rd@%!',
      whole: 'postgres://u:p@h/d',
      text: 'not a url pa/ss#w?rd@%!',
    });
    expect(new URL((r.value as { url: string }).url).password).toBe('pa%2Fss%23w%3Frd%40%25!');
    expect(decodeURIComponent(new URL((r.value as { url: string }).url).password)).toBe(env.PW);
  });

  it('records where each reference was, as written, and leaves the input alone', () => {
    const raw = { connections: [{ password: '${env:DB_PW}', host: 'db' }], database_url: 'postgres://u:${file:/run/secrets/db}@h/d' };
    const copy = structuredClone(raw);
    const r = resolveSecretRefs(raw, opts);
    expect([...r.sources]).toEqual([
      ['connections[0].password', '${env:DB_PW}'],
      ['database_url', 'postgres://u:${file:/run/secrets/db}@h/d'],
    ]);
    expect(raw).toEqual(copy);
  });

  it.each([
    ['${env:MISSING}', '${env:MISSING} is not set — set the environment variable MISSING, or change the reference'],
    ['${env:EMPTY}', '${env:EMPTY} is empty — give the environment variable EMPTY a value'],
    ['${env:not-a-name}', '${env:not-a-name} is not a valid variable name'],
    ['${file:/run/secrets/nope}', '${file:/run/secrets/nope} cannot be read (ENOENT: /run/secrets/nope) — create the file'],
    ['${file:}', '${file:} names no file'],
    ['${vault:db/pw}', '${vault:db/pw} is not a secret reference — use ${env:NAME} or ${file:PATH}'],
  ])('%s is a problem naming the key and the reference', (input, message) => {
    const r = resolveSecretRefs({ connections: [{ password: input }] }, opts);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.path).toBe('connections[0].password');
    expect(r.problems[0]!.reference).toBe(input);
    expect(r.problems[0]!.message).toContain(message);
  });

  it('collects every problem, not just the first', () => {
    const r = resolveSecretRefs({ a: '${env:X}', b: ['${env:Y}', '${file:/nope}'] }, opts);
    expect(r.problems.map((p) => p.path)).toEqual(['a', 'b[0]', 'b[1]']);
  });
});

describe('expandHome', () => {
  it.each([
    ['~', '/home/ann'],
    ['~/data', '/home/ann/data'],
    ['~bob/data', '~bob/data'],
    ['/abs', '/abs'],
    ['rel/~/x', 'rel/~/x'],
  ])('%s → %s', (input, expected) => {
    expect(expandHome(input, '/home/ann')).toBe(expected);
  });
});
