import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import { createFramer, wireBytes } from '../../../../../../gateway/engines/postgres/protocol/framer.js';
import type { Frame, Framer } from '../../../../../../gateway/engines/postgres/protocol/framer.js';
import {
  DEFAULT_MAX_FRAME,
  MAX_PREAUTH_FRAME,
  MAX_STARTUP_LENGTH,
} from '../../../../../../gateway/engines/postgres/protocol/constants.js';
import { cstr, int16, int32, lenBytes, msg, sslRequest, startup } from '../../../../../helpers/pg-bytes.js';

interface Expected { tag: number | null; raw: Buffer; headerLen: number }

const tagged = (raw: Buffer): Expected => ({ tag: raw[0] as number, raw, headerLen: 5 });
const untaggedFrame = (raw: Buffer): Expected => ({ tag: null, raw, headerLen: 4 });

const frontendFixture: Expected[] = [
  untaggedFrame(startup({ user: 'alice', database: 'app', application_name: 'psql' })),
  tagged(msg('p', cstr('secret'))),
  tagged(msg('Q', cstr('select 1; select 2'))),
  tagged(msg('P', cstr('s1'), cstr('select $1::int'), int16(1), int32(23))),
  tagged(msg('B', cstr(''), cstr('s1'), int16(0), int16(1), lenBytes('42'), int16(0))),
  tagged(msg('E', cstr(''), int32(0))),
  tagged(msg('S')),
  tagged(msg('d', Buffer.alloc(300, 7))),
  tagged(msg('X')),
];

const backendFixture: Expected[] = [
  tagged(msg('R', int32(0))),
  tagged(msg('S', cstr('server_version'), cstr('16.3'))),
  tagged(msg('K', int32(1234), int32(5678))),
  tagged(msg('Z', Buffer.from('I'))),
  tagged(msg('T', int16(1), cstr('n'), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(0))),
  tagged(msg('D', int16(2), lenBytes('1'), lenBytes(null))),
  tagged(msg('D', int16(1), lenBytes(Buffer.alloc(200, 1)))),
  tagged(msg('C', cstr('SELECT 2'))),
  tagged(msg('Z', Buffer.from('I'))),
];

/** Feeds chunks the way the engine will: leave the startup phase after the first untagged packet. */
function feed(framer: Framer, chunks: Buffer[]): Frame[] {
  const out: Frame[] = [];
  for (const c of chunks) {
    for (const f of framer.push(c)) {
      out.push(f);
      if (f.tag === null) out.push(...framer.leaveStartup());
    }
  }
  return out;
}

function sameFrames(actual: Frame[], expected: Expected[]): boolean {
  return actual.length === expected.length && actual.every((f, i) => {
    const e = expected[i] as Expected;
    return f.tag === e.tag && f.raw.equals(e.raw) && f.body.equals(e.raw.subarray(e.headerLen));
  });
}

function expectFrames(actual: Frame[], expected: Expected[]): void {
  // A readable diff on failure, a cheap check on success (this runs tens of thousands of times).
  if (!sameFrames(actual, expected)) {
    expect(actual.map((f) => [f.tag, f.raw.toString('hex')])).toEqual(expected.map((e) => [e.tag, e.raw.toString('hex')]));
  }
}

describe.each([
  ['frontend', frontendFixture, true],
  ['backend', backendFixture, false],
] as const)('framer on the %s fixture', (_name, fixture, isStartup) => {
  const stream = Buffer.concat(fixture.map((e) => e.raw));
  const make = () => createFramer({ startup: isStartup, maxLength: DEFAULT_MAX_FRAME });

  it('yields the same frames when fed whole', () => {
    const f = make();
    expectFrames(feed(f, [stream]), fixture);
    expect(f.buffered()).toBe(0);
  });

  it('yields the same frames when split at every offset', () => {
    for (let i = 0; i <= stream.length; i++) {
      expectFrames(feed(make(), [stream.subarray(0, i), stream.subarray(i)]), fixture);
    }
  });

  it('yields the same frames when split at every pair of offsets', () => {
    for (let i = 0; i <= stream.length; i += 3) {
      for (let j = i; j <= stream.length; j++) {
        expectFrames(feed(make(), [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]), fixture);
      }
    }
  });

  it('yields the same frames when fed byte by byte', () => {
    const chunks = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    const f = make();
    expectFrames(feed(f, chunks), fixture);
    expect(f.buffered()).toBe(0);
  });
});

describe('framer', () => {
  it('slices instead of copying when a chunk holds whole frames', () => {
    const chunk = Buffer.concat([msg('Q', cstr('a')), msg('S')]);
    const [a, b] = createFramer({ startup: false, maxLength: 1000 }).push(chunk);
    expect(a?.raw.buffer).toBe(chunk.buffer);
    expect(a?.raw.byteOffset).toBe(chunk.byteOffset);
    expect(b?.raw.buffer).toBe(chunk.buffer);
    expect(b?.raw.byteOffset).toBe(chunk.byteOffset + 7);
    expect(b?.body.length).toBe(0);
  });

  it('reports partial frames as buffered', () => {
    const f = createFramer({ startup: false, maxLength: 1000 });
    expect(f.push(msg('Q', cstr('select 1')).subarray(0, 7))).toEqual([]);
    expect(f.buffered()).toBe(7);
  });

  it('returns one startup packet per push and keeps what follows buffered', () => {
    const f = createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH });
    const ssl = sslRequest();
    const st = startup({ user: 'bob' });
    const first = f.push(Buffer.concat([ssl, st, msg('Q', cstr('x'))]));
    expect(first.map((x) => x.raw)).toEqual([ssl]);
    // Bytes behind an SSLRequest: the engine must refuse them (CVE-2021-23214), and can see them here.
    expect(f.buffered()).toBe(st.length + 7);
    const second = f.push(Buffer.alloc(0));
    expect(second.map((x) => x.raw)).toEqual([st]);
    const rest = f.leaveStartup();
    expect(rest.map((x) => [x.tag, x.body.toString()])).toEqual([[0x51, 'x\0']]);
    expect(f.buffered()).toBe(0);
    expect(f.leaveStartup()).toEqual([]);
  });

  it('handles a large frame in one-byte chunks in linear time', () => {
    const big = msg('d', Buffer.alloc(512 * 1024, 0x61));
    const f = createFramer({ startup: false, maxLength: DEFAULT_MAX_FRAME });
    let frames: Frame[] = [];
    for (let i = 0; i < big.length; i++) frames = frames.concat(f.push(big.subarray(i, i + 1)));
    expect(frames.length).toBe(1);
    expect(frames[0]?.raw.equals(big)).toBe(true);
  }, 10_000);

  it('handles many small frames in small chunks', () => {
    const one = msg('Q', cstr('select 1'));
    const stream = Buffer.concat(Array.from({ length: 5000 }, () => one));
    const f = createFramer({ startup: false, maxLength: 1000 });
    let n = 0;
    for (let i = 0; i < stream.length; i += 3) {
      for (const fr of f.push(stream.subarray(i, i + 3))) {
        expect(fr.raw.equals(one)).toBe(true);
        n++;
      }
    }
    expect(n).toBe(5000);
    expect(f.buffered()).toBe(0);
  });

  describe('length limits', () => {
    const header = (tag: string, len: number) => Buffer.concat([Buffer.from(tag), int32(len)]);

    it.each([0, 1, 3, -1, -0x80000000])('rejects a tagged length of %i', (len) => {
      const f = createFramer({ startup: false, maxLength: 1000 });
      expect(() => f.push(header('Q', len))).toThrow(ProtocolError);
    });

    it('accepts the smallest tagged length, 4', () => {
      expect(createFramer({ startup: false, maxLength: 1000 }).push(header('S', 4))).toHaveLength(1);
    });

    it.each([0, 4, 7])('rejects a startup length of %i', (len) => {
      const f = createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH });
      expect(() => f.push(int32(len))).toThrow(/below the minimum 8/);
    });

    it('caps startup packets at MAX_STARTUP_LENGTH whatever maxLength says', () => {
      const f = createFramer({ startup: true, maxLength: DEFAULT_MAX_FRAME });
      expect(() => f.push(int32(MAX_STARTUP_LENGTH + 1))).toThrow(/above the limit 10000/);
    });

    it('rejects a frame above the pre-auth limit from its header alone', () => {
      const f = createFramer({ startup: false, maxLength: MAX_PREAUTH_FRAME });
      expect(() => f.push(header('p', MAX_PREAUTH_FRAME + 1))).toThrow(/above the limit 65536/);
    });

    it('accepts a frame of exactly the limit', () => {
      const f = createFramer({ startup: false, maxLength: 100 });
      const frame = msg('d', Buffer.alloc(96));
      expect(f.push(frame)).toHaveLength(1);
    });

    it('rejects a huge declared length before any body arrives, and stays failed', () => {
      const f = createFramer({ startup: false, maxLength: DEFAULT_MAX_FRAME });
      let err: unknown;
      try {
        f.push(header('d', 0x7fffffff));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProtocolError);
      expect(f.buffered()).toBe(0);
      expect(() => f.push(msg('S'))).toThrow(err as Error);
    });

    it('applies a raised limit after setMaxLength', () => {
      const f = createFramer({ startup: false, maxLength: MAX_PREAUTH_FRAME });
      f.setMaxLength(DEFAULT_MAX_FRAME);
      const frame = msg('d', Buffer.alloc(MAX_PREAUTH_FRAME));
      expect(f.push(frame)).toHaveLength(1);
    });

    it('rejects an invalid limit', () => {
      expect(() => createFramer({ startup: false, maxLength: 3 })).toThrow(ProtocolError);
      expect(() => createFramer({ startup: false, maxLength: 100 }).setMaxLength(2 ** 31)).toThrow(ProtocolError);
    });
  });
});

describe('wireBytes', () => {
  const wire = Buffer.concat([msg('d', Buffer.from('1\tone\n')), msg('d', Buffer.from('2\ttwo\n')), msg('d', Buffer.from('3\tthree\n')), msg('c')]);

  it('joins frames that came in one chunk as one slice of it', () => {
    const frames = createFramer({ startup: false, maxLength: 1 << 20 }).push(wire);
    const joined = wireBytes(frames.slice(0, 3));
    expect(joined.equals(wire.subarray(0, wire.length - 5))).toBe(true);
    expect(joined.buffer).toBe(wire.buffer);
    expect(wireBytes(frames)).toBe(wire);
    expect(wireBytes([])).toHaveLength(0);
  });

  it('copies frames from several chunks, split anywhere, and frames made elsewhere, into the same bytes', () => {
    for (let at = 0; at <= wire.length; at++) {
      const f = createFramer({ startup: false, maxLength: 1 << 20 });
      const frames = [...f.push(wire.subarray(0, at)), ...f.push(wire.subarray(at))];
      expect(wireBytes(frames).equals(wire), `split at ${at}`).toBe(true);
      const plain = frames.map((x) => ({ tag: x.tag, body: x.body, raw: Buffer.from(x.raw), count: 1 }));
      expect(wireBytes([frames[0]!, plain[1]!, ...frames.slice(2)]).equals(wire)).toBe(true);
    }
  });
});

describe('framer with copyRuns', () => {
  // A COPY out: CopyOutResponse, a CopyData per row, CopyDone, CommandComplete, ReadyForQuery.
  const rows = ['1\talice\n', '2\tbob\n', '3\tcarol\n', '4\tdave\n'];
  const copyOut = [
    msg('H', Buffer.from([0]), int16(2), int16(0), int16(0)),
    ...rows.map((r) => msg('d', Buffer.from(r))),
    msg('c'),
    msg('C', cstr('COPY 4')),
    msg('Z', Buffer.from('I')),
  ];
  const wire = Buffer.concat(copyOut);
  const copyFramer = (): Framer => createFramer({ startup: false, maxLength: 1 << 20, copyRuns: true });

  it('hands out the CopyData messages of one chunk as one frame, with their count', () => {
    const frames = copyFramer().push(wire);
    expect(frames.map((f) => [String.fromCharCode(f.tag!), f.count])).toEqual([['H', 1], ['d', 4], ['c', 1], ['C', 1], ['Z', 1]]);
    expect(frames[1]!.raw.equals(Buffer.concat(copyOut.slice(1, 5)))).toBe(true);
    expect(frames[1]!.raw.buffer).toBe(wire.buffer);
    expect(() => frames[1]!.body).toThrow(ProtocolError);
    expect(frames[2]!.body).toHaveLength(0);
  });

  it('keeps every message and its count when the wire is split anywhere', () => {
    for (let at = 0; at <= wire.length; at++) {
      const f = copyFramer();
      const frames = [...f.push(wire.subarray(0, at)), ...f.push(wire.subarray(at))];
      expect(wireBytes(frames).equals(wire), `split at ${at}`).toBe(true);
      const copyData = frames.filter((x) => x.tag === 0x64);
      expect(copyData.reduce((n, x) => n + x.count, 0), `split at ${at}`).toBe(rows.length);
      expect(frames.filter((x) => x.tag !== 0x64).every((x) => x.count === 1)).toBe(true);
    }
  });

  it('ends a run before a message with a bad length and fails on it', () => {
    const bad = Buffer.concat([msg('d', Buffer.from('1\n')), Buffer.from([0x64, 0, 0, 0, 2]), Buffer.from('xx')]);
    const f = copyFramer();
    expect(() => f.push(bad)).toThrow(/declares length 2, below the minimum 4/);
    const g = createFramer({ startup: false, maxLength: 64, copyRuns: true });
    const long = Buffer.concat([msg('d', Buffer.from('1\n')), msg('d', Buffer.alloc(100, 0x61))]);
    expect(() => g.push(long)).toThrow(/above the limit 64/);
  });

  it('is off by default: a CopyData message per frame', () => {
    const frames = createFramer({ startup: false, maxLength: 1 << 20 }).push(wire);
    expect(frames.filter((x) => x.tag === 0x64)).toHaveLength(rows.length);
    expect(frames.every((x) => x.count === 1)).toBe(true);
  });
});
