/**
 * COPY FROM STDIN as the session follows it: a Sync sent before the server's CopyInResponse is counted only if the
 * COPY fails before it starts (the server ignores Syncs in copy-in mode), and anything but COPY data during
 * copy-in ends the session with 08P01, since the server's answers could no longer be paired with the messages.
 */
import { describe, expect, it } from 'vitest';
import { HoopError } from '../../../../../shared/errors.js';
import { CopyInState } from '../../../../../gateway/engines/postgres/copy-in-state.js';
import { BackendTag, createFramer, type Frame } from '../../../../../gateway/engines/postgres/protocol/index.js';
import { cstr, int32, msg } from '../../../../helpers/pg-bytes.js';

function frame(wire: Buffer): Frame {
  const [f] = createFramer({ startup: false, maxLength: 1 << 20 }).push(wire);
  return f!;
}

const sync = frame(msg('S'));
const flush = frame(msg('H'));
const copyData = frame(msg('d', Buffer.from('1\tx\n')));
const copyDone = frame(msg('c'));
const copyFail = frame(msg('f', cstr('stopped')));
const terminate = frame(msg('X'));
const query = frame(msg('Q', cstr('SELECT 1')));
const execute = frame(msg('E', cstr(''), int32(0)));

/** The error `fn` throws: it must end the session as a protocol violation. */
function sessionEnding(fn: () => unknown): HoopError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HoopError);
    const err = e as HoopError;
    expect(err.details?.sqlstate).toBe('08P01');
    expect(err.message).toMatch(/the session is closed$/);
    return err;
  }
  throw new Error('expected the message to end the session');
}

describe('CopyInState', () => {
  it('is inactive until a COPY starts', () => {
    const c = new CopyInState();
    expect(c.active).toBe(false);
    expect(c.answer(BackendTag.ErrorResponse)).toBe(0);
    c.start(true, 3);
    expect(c.active).toBe(true);
  });

  describe('Syncs sent before the server answers the COPY', () => {
    it('are forwarded and counted after all when the COPY fails before it starts', () => {
      const c = new CopyInState();
      c.start(true, 0);
      expect(c.message(sync)).toEqual([sync.raw]);
      expect(c.message(flush)).toEqual([flush.raw]);
      expect(c.message(sync)).toEqual([sync.raw]);
      expect(c.answer(BackendTag.ErrorResponse)).toBe(2);
      expect(c.active).toBe(false);
    });

    it('are not counted once the server sends CopyInResponse (it ignores them in copy-in mode)', () => {
      const c = new CopyInState();
      c.start(true, 0);
      c.message(sync);
      expect(c.answer(BackendTag.CopyInResponse)).toBe(0);
      expect(c.active).toBe(true);
      expect(c.message(sync)).toEqual([sync.raw]);
      // Failed mid-copy: the client still ends with CopyDone or CopyFail, then its Sync.
      expect(c.answer(BackendTag.ErrorResponse)).toBe(0);
      expect(c.active).toBe(true);
      expect(c.message(copyFail)).toEqual([copyFail.raw]);
      expect(c.active).toBe(false);
    });

    it('are not carried into the next COPY', () => {
      const c = new CopyInState();
      c.start(true, 0);
      c.message(sync);
      c.start(true, 1);
      expect(c.answer(BackendTag.ErrorResponse)).toBe(0);
    });
  });

  it('forwards COPY data, and ends with CopyDone or CopyFail once the COPY runs', () => {
    for (const end of [copyDone, copyFail]) {
      const c = new CopyInState();
      c.start(false, 0);
      c.answer(BackendTag.CopyInResponse);
      expect(c.message(copyData)).toEqual([copyData.raw]);
      expect(c.active).toBe(true);
      expect(c.message(end)).toEqual([end.raw]);
      expect(c.active).toBe(false);
    }
  });

  it('ends the session on CopyDone or CopyFail before the server asked for data (CopyInResponse)', () => {
    for (const end of [copyDone, copyFail]) {
      const c = new CopyInState();
      c.start(true, 0);
      expect(sessionEnding(() => c.message(end)).message).toMatch(/COPY data came before the server asked for it/);
    }
  });

  it('ends the session on any other message during copy-in', () => {
    for (const extended of [false, true]) {
      for (const f of [query, execute]) {
        const c = new CopyInState();
        c.start(extended, 0);
        c.answer(BackendTag.CopyInResponse);
        expect(sessionEnding(() => c.message(f)).message).toMatch(/only COPY data may follow COPY FROM STDIN/);
      }
    }
  });

  it('ends the session on Sync or Flush during a COPY sent with a simple Query', () => {
    for (const f of [sync, flush]) {
      const c = new CopyInState();
      c.start(false, 0);
      sessionEnding(() => c.message(f));
    }
  });

  it('leaves Terminate to the session (the COPY is over)', () => {
    const c = new CopyInState();
    c.start(true, 0);
    expect(c.message(terminate)).toBeNull();
  });

  it('ends a simple Query\'s COPY at the ReadyForQuery that answers the Query', () => {
    const c = new CopyInState();
    c.start(false, 2);
    c.ready(1);
    expect(c.active).toBe(true);
    c.ready(2);
    expect(c.active).toBe(false);
  });

  it('leaves an Execute\'s COPY to its CopyDone or CopyFail, whatever ReadyForQuery comes', () => {
    const c = new CopyInState();
    c.start(true, 0);
    c.ready(5);
    expect(c.active).toBe(true);
  });
});
