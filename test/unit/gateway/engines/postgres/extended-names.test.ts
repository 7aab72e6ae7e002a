/**
 * Prepared statement and portal names follow the server's answers: a change the server refuses (or skips after
 * an error) never takes effect, and a later message of the same pipeline sees a change not yet confirmed.
 */
import { describe, expect, it } from 'vitest';
import { ExtendedNames } from '../../../../../gateway/engines/postgres/extended-names.js';

describe('ExtendedNames', () => {
  it('lets later messages of the pipeline see a Parse, and keeps it once the server confirms it', () => {
    const n = new ExtendedNames<string, string>();
    n.parse('s', 'SELECT 1', 0);
    expect(n.statement('s')).toBe('SELECT 1');
    n.confirmed('parse');
    expect(n.statement('s')).toBe('SELECT 1');
  });

  it('keeps the old statement when the server refuses a Parse of its name (42P05)', () => {
    const n = new ExtendedNames<string, string>();
    n.parse('s', 'DELETE FROM t', 0);
    n.confirmed('parse');
    n.parse('s', 'SELECT 1', 1);
    n.bind('', 'portal of SELECT 1', 1);
    expect(n.statement('s')).toBe('SELECT 1');
    n.failed(1);
    expect(n.statement('s')).toBe('DELETE FROM t');
    expect(n.portal('')).toBeUndefined();
  });

  it('drops only the failed pipeline\'s changes, not those of a pipeline sent after it', () => {
    const n = new ExtendedNames<string, string>();
    n.parse('a', 'first', 0);
    n.parse('b', 'second', 1);
    n.failed(0);
    n.confirmed('parse');
    expect(n.statement('a')).toBeUndefined();
    expect(n.statement('b')).toBe('second');
  });

  it('applies a Close when confirmed, and forgets every portal when the transaction ends', () => {
    const n = new ExtendedNames<string, string>();
    n.parse('s', 'x', 0);
    n.bind('p', 'portal', 0);
    n.confirmed('parse');
    n.confirmed('bind');
    n.close('S', 's', 1);
    expect(n.statement('s')).toBeUndefined();
    n.confirmed('close');
    expect(n.statement('s')).toBeUndefined();
    n.bind('q', 'later', 2); // sent, not answered yet
    n.transactionEnded();
    expect(n.portal('p')).toBeUndefined();
    expect(n.portal('q')).toBe('later');
  });

  it('throws when the server answers something it was not asked (the session then ends)', () => {
    const n = new ExtendedNames<string, string>();
    expect(() => n.confirmed('bind')).toThrow(/expected nothing/);
    n.parse('s', 'x', 0);
    expect(() => n.confirmed('close')).toThrow(/expected parse/);
  });

  it('treats a name SQL releases as unknown from when the release is sent, and forgets it once it completes', () => {
    const n = new ExtendedNames<string, string>();
    n.parse('s', 'SELECT 1', 0);
    n.parse('t', 'SELECT 2', 0);
    n.confirmed('parse');
    n.confirmed('parse');
    n.release('s', 1); // DEALLOCATE s, not answered yet
    expect(n.statement('s')).toBeUndefined();
    expect(n.statement('t')).toBe('SELECT 2');
    n.released();
    expect(n.statement('s')).toBeUndefined();
    n.release(null, 2); // DEALLOCATE ALL or DISCARD ALL
    n.parse('u', 'SELECT 3', 2); // sent after it: the server keeps it
    expect(n.statement('t')).toBeUndefined();
    expect(n.statement('u')).toBe('SELECT 3');
    n.released();
    n.confirmed('parse');
    expect(n.statement('t')).toBeUndefined();
    expect(n.statement('u')).toBe('SELECT 3');
  });

  it('keeps a name whose release failed, or was passed without a completion it recognised', () => {
    const n = new ExtendedNames<string, string>();
    n.parse('s', 'SELECT 1', 0);
    n.confirmed('parse');
    n.release('s', 1);
    n.failed(1); // an earlier statement of the same Query failed: the DEALLOCATE was skipped
    expect(n.statement('s')).toBe('SELECT 1');
    n.release('s', 2);
    n.parse('t', 'SELECT 2', 3);
    n.confirmed('parse'); // the server answered past the release
    expect(n.statement('s')).toBe('SELECT 1');
    expect(n.statement('t')).toBe('SELECT 2');
    n.released(); // nothing pending: no effect
    expect(n.statement('s')).toBe('SELECT 1');
  });
});
