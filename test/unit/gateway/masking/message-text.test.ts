/**
 * Error and notice messages quote values; on a statement that reads masked data, a value the client did not send
 * must not come back in one.
 */
import { describe, expect, it } from 'vitest';
import { knownTokens, maskMessageFields, maskMessageText, type MessageMasking } from '../../../../gateway/masking/message-text.js';

const base: MessageMasking = { values: true, known: knownTokens(['SELECT email::uuid FROM customers WHERE id = 1'], []), detectors: [], strategy: 'redact', ctx: { hashKey: Buffer.from('k') } };

describe('maskMessageText', () => {
  it('masks the value a failed cast quotes, and keeps the message around it', () => {
    expect(maskMessageText('invalid input syntax for type uuid: "alice.liskov@example.com"', base)).toBe('invalid input syntax for type uuid: "***"');
  });

  it('keeps what the client sent itself: names and literals in its statement or parameters', () => {
    const m = { ...base, known: knownTokens(['SELECT * FROM custmers WHERE email = \'x\''], ['42']) };
    expect(maskMessageText('relation "custmers" does not exist', m)).toBe('relation "custmers" does not exist');
    expect(maskMessageText('invalid input syntax for type integer: "42"', m)).toBe('invalid input syntax for type integer: "42"');
  });

  it('masks keys and rows in details, but not the column names the client wrote', () => {
    const m = { ...base, known: knownTokens(['UPDATE customers SET email = lower(email)'], []) };
    expect(maskMessageText('Key (email)=(alice@example.com) already exists.', m, true)).toBe('Key (email)=(***) already exists.');
    expect(maskMessageText('Failing row contains (1, Alice, alice@example.com).', m, true)).toBe('Failing row contains (***).');
  });

  it('leaves a message alone when the statement reads no masked data, but the detectors still read it', () => {
    const m = { ...base, values: false, detectors: ['email'] as const };
    expect(maskMessageText('duplicate key value violates unique constraint "orders_pkey"', m)).toBe('duplicate key value violates unique constraint "orders_pkey"');
    expect(maskMessageText('mail jane.doe@corp.example now', m)).toBe('mail *** now');
  });
});

describe('knownTokens', () => {
  it('keeps whole words, literals and parameters, never a piece of one, nor what a comment says', () => {
    const k = knownTokens(["SELECT substr(email, 1, 1)::int FROM t WHERE note = 'it''s' /* abcdefg */ -- xyz"], ['p1']);
    for (const t of ['substr', 'email', '1', 'int', "it's", 'p1']) expect(k.has(t), t).toBe(true);
    for (const t of ['a', 'abcdefg', 'xyz', 'sub']) expect(k.has(t), t).toBe(false);
  });
});

describe('maskMessageFields', () => {
  it('masks the text fields only, and returns the same object when nothing changed', () => {
    const fields = { S: 'ERROR', C: '22P02', M: 'invalid input syntax for type uuid: "alice@example.com"', D: 'Token "alice" is invalid.' };
    expect(maskMessageFields(fields, base)).toEqual({ ...fields, M: 'invalid input syntax for type uuid: "***"', D: 'Token "***" is invalid.' });
    const clean = { S: 'ERROR', C: '42P01', M: 'relation "customers" does not exist' };
    expect(maskMessageFields(clean, base)).toBe(clean);
  });

  it('withholds a message written by code the statement ran (a context, a PL/pgSQL SQLSTATE, a notice), keeping its SQLSTATE', () => {
    const raised = { S: 'ERROR', C: 'P0001', M: 'e shafi.liskov1', W: 'PL/pgSQL function leak(text) line 3 at RAISE' };
    expect(maskMessageFields(raised, base)).toEqual({ S: 'ERROR', C: 'P0001', M: expect.stringContaining('withheld') });
    expect(maskMessageFields({ S: 'NOTICE', C: '00000', M: 'n shafi.liskov1' }, base, true).M).toContain('a notice was withheld');
    expect(maskMessageFields({ S: 'NOTICE', C: '00000', M: 'hello' }, { ...base, values: false }, true).M).toBe('hello');
  });
});
