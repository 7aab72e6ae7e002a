import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../shared/errors.js';
import {
  createFramer,
  decodeBackend,
  decodeFrontend,
  decodePasswordMessage,
  decodeSaslInitialResponse,
  decodeStartupPacket,
  DEFAULT_MAX_FRAME,
  MAX_PREAUTH_FRAME,
  scramContinue,
  scramFinish,
  scramStart,
} from '../../gateway/engines/postgres/protocol/index.js';
import type { Frame, FrontendMessage } from '../../gateway/engines/postgres/protocol/index.js';
import { cstr, int16, int32, int8, lenBytes, msg, startup } from '../helpers/pg-bytes.js';

const RUNS = { numRuns: 2000 };

/** Runs `fn`; anything thrown other than ProtocolError fails the property. */
function onlyProtocolError(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
}

/** Decodes every frame the way the engine would, in whichever direction. */
function decodeAll(frames: Frame[], backend: boolean): void {
  for (const f of frames) {
    if (f.tag === null) {
      decodeStartupPacket(f.body);
    } else if (backend) {
      decodeBackend(f.tag, f.body);
    } else {
      const m = decodeFrontend(f.tag, f.body);
      if (m.type === 'PasswordLike') {
        onlyProtocolError(() => decodePasswordMessage(m.data));
        onlyProtocolError(() => decodeSaslInitialResponse(m.data));
      }
    }
  }
}

/** Splits a buffer at the given (unsorted, possibly repeated) offsets. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

function feedAll(buf: Buffer, cuts: number[], opts: { startup: boolean; maxLength: number }): Frame[] {
  const framer = createFramer(opts);
  const frames: Frame[] = [];
  for (const c of split(buf, cuts)) {
    for (const f of framer.push(c)) {
      frames.push(f);
      if (f.tag === null) frames.push(...framer.leaveStartup());
    }
  }
  return frames;
}

const text = fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s.replace(/\0/g, ''));
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const oid = fc.integer({ min: 0, max: 0xffffffff });
const value = fc.option(fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)), { nil: null });
const target = fc.constantFrom<'S' | 'P'>('S', 'P');

/** A valid frontend message: bytes from the independent builder, and what decoding must give. */
const frontendMessage: fc.Arbitrary<{ bytes: Buffer; expected: FrontendMessage }> = fc.oneof(
  text.map((sql) => ({ bytes: msg('Q', cstr(sql)), expected: { type: 'Query' as const, sql } })),
  fc.record({ name: text, sql: text, paramTypes: fc.array(oid, { maxLength: 5 }) }).map((p) => ({
    bytes: msg('P', cstr(p.name), cstr(p.sql), int16(p.paramTypes.length), ...p.paramTypes.map(int32)),
    expected: { type: 'Parse' as const, ...p },
  })),
  fc.record({
    portal: text, statement: text, paramFormats: fc.array(i16, { maxLength: 4 }),
    params: fc.array(value, { maxLength: 4 }), resultFormats: fc.array(i16, { maxLength: 4 }),
  }).map((b) => ({
    bytes: msg('B', cstr(b.portal), cstr(b.statement), int16(b.paramFormats.length), ...b.paramFormats.map(int16),
      int16(b.params.length), ...b.params.map(lenBytes), int16(b.resultFormats.length), ...b.resultFormats.map(int16)),
    expected: { type: 'Bind' as const, ...b },
  })),
  fc.record({ target, name: text, describe: fc.boolean() }).map(({ target: t, name, describe: d }) => ({
    bytes: msg(d ? 'D' : 'C', Buffer.from(t), cstr(name)),
    expected: { type: d ? ('Describe' as const) : ('Close' as const), target: t, name },
  })),
  fc.record({ portal: text, maxRows: i32 }).map((e) => ({ bytes: msg('E', cstr(e.portal), int32(e.maxRows)), expected: { type: 'Execute' as const, ...e } })),
  fc.constantFrom(
    { bytes: msg('S'), expected: { type: 'Sync' as const } },
    { bytes: msg('H'), expected: { type: 'Flush' as const } },
    { bytes: msg('c'), expected: { type: 'CopyDone' as const } },
    { bytes: msg('X'), expected: { type: 'Terminate' as const } },
  ),
  fc.uint8Array({ maxLength: 64 }).map((a) => ({ bytes: msg('d', Buffer.from(a)), expected: { type: 'CopyData' as const, data: Buffer.from(a) } })),
  text.map((message) => ({ bytes: msg('f', cstr(message)), expected: { type: 'CopyFail' as const, message } })),
  fc.uint8Array({ maxLength: 64 }).map((a) => ({ bytes: msg('p', Buffer.from(a)), expected: { type: 'PasswordLike' as const, data: Buffer.from(a) } })),
  fc.record({ oid, argFormats: fc.array(i16, { maxLength: 3 }), args: fc.array(value, { maxLength: 3 }), resultFormat: i16 }).map((f) => ({
    bytes: msg('F', int32(f.oid), int16(f.argFormats.length), ...f.argFormats.map(int16), int16(f.args.length), ...f.args.map(lenBytes), int16(f.resultFormat)),
    expected: { type: 'FunctionCall' as const, ...f },
  })),
);

/** A valid frame in either direction, for mutation. */
const anyValidFrame = fc.oneof(
  frontendMessage.map((m) => m.bytes),
  fc.constantFrom(
    msg('R', int32(10), cstr('SCRAM-SHA-256'), int8(0)),
    msg('R', int32(5), Buffer.from([1, 2, 3, 4])),
    msg('K', int32(1), int32(2)),
    msg('Z', Buffer.from('T')),
    msg('T', int16(1), cstr('a'), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(0)),
    msg('D', int16(2), lenBytes('x'), lenBytes(null)),
    msg('E', int8(0x53), cstr('ERROR'), int8(0x43), cstr('42501'), int8(0)),
    msg('A', int32(1), cstr('ch'), cstr('payload')),
    msg('G', int8(0), int16(1), int16(0)),
    msg('t', int16(1), int32(23)),
    msg('v', int32(0), int32(1), cstr('_pq_.x')),
    msg('V', lenBytes('1')),
  ),
);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('length' as const), len: i32 }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(frame: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(frame);
  switch (m.kind) {
    case 'flip':
      b[m.at % b.length] = m.byte;
      return b;
    case 'truncate':
      return b.subarray(0, m.at % b.length);
    case 'insert': {
      const at = m.at % (b.length + 1);
      return Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    }
    case 'length':
      if (b.length >= 5) b.writeInt32BE(m.len, 1);
      return b;
  }
}

describe('PostgreSQL codec fuzzing', () => {
  it('random bytes through framer and decoders throw nothing but ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), fc.boolean(), (bytes, cuts, isStartup, backend) => {
        onlyProtocolError(() => decodeAll(feedAll(Buffer.from(bytes), cuts, { startup: isStartup, maxLength: MAX_PREAUTH_FRAME }), backend));
      }),
      RUNS,
    );
  });

  it('random frames with plausible headers throw nothing but ProtocolError', () => {
    // Random bytes rarely form a length in range; these do, so the decoders see random bodies behind real tags.
    const plausible = fc.record({
      tag: fc.constantFrom(...'QPBDECSHdcfpFXRKZTDNAGWtvVn123sI'.split('').map((c) => c.charCodeAt(0))),
      body: fc.uint8Array({ maxLength: 64 }),
      delta: fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 3 })),
    }).map(({ tag, body, delta }) => Buffer.concat([int8(tag), int32(body.length + 4 + delta), Buffer.from(body)]));
    fc.assert(
      fc.property(fc.array(plausible, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (frames, cuts, backend) => {
        onlyProtocolError(() => decodeAll(feedAll(Buffer.concat(frames), cuts, { startup: false, maxLength: MAX_PREAUTH_FRAME }), backend));
      }),
      RUNS,
    );
  });

  it('random bodies under every tag throw nothing but ProtocolError', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 128 }), (tag, body) => {
        onlyProtocolError(() => decodeFrontend(tag, Buffer.from(body)));
        onlyProtocolError(() => decodeBackend(tag, Buffer.from(body)));
        onlyProtocolError(() => decodeStartupPacket(Buffer.concat([int32(tag === 0 ? 196608 : 80877100 + (tag % 6)), Buffer.from(body)])));
      }),
      RUNS,
    );
  });

  it('mutated valid frames throw nothing but ProtocolError', () => {
    fc.assert(
      fc.property(anyValidFrame, fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), (frame, ms, backend) => {
        const mutated = ms.reduce((b, m) => (b.length === 0 ? b : mutate(b, m)), frame);
        onlyProtocolError(() => decodeAll(feedAll(mutated, [], { startup: false, maxLength: DEFAULT_MAX_FRAME }), backend));
        if (mutated.length >= 5) onlyProtocolError(() => decodeFrontend(mutated[0] as number, mutated.subarray(5)));
        if (mutated.length >= 5) onlyProtocolError(() => decodeBackend(mutated[0] as number, mutated.subarray(5)));
      }),
      RUNS,
    );
  });

  it('mutated startup packets throw nothing but ProtocolError', () => {
    const params = fc.dictionary(text.filter((k) => k !== ''), text, { maxKeys: 4 });
    fc.assert(
      fc.property(params, fc.array(mutation, { maxLength: 2 }), (p, ms) => {
        const packet = ms.reduce((b, m) => (b.length === 0 || m.kind === 'length' ? b : mutate(b, m)), startup({ user: 'u', ...p }));
        onlyProtocolError(() => decodeAll(feedAll(packet, [], { startup: true, maxLength: MAX_PREAUTH_FRAME }), false));
      }),
      RUNS,
    );
  });

  it('valid messages survive arbitrary chunking and decode to what was built', () => {
    fc.assert(
      fc.property(fc.array(frontendMessage, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
        const st = startup({ user: 'fuzz', database: 'db' });
        const stream = Buffer.concat([st, ...messages.map((m) => m.bytes)]);
        const frames = feedAll(stream, cuts, { startup: true, maxLength: DEFAULT_MAX_FRAME });
        expect(frames.map((f) => f.raw.toString('hex'))).toEqual([st, ...messages.map((m) => m.bytes)].map((b) => b.toString('hex')));
        expect(decodeStartupPacket(frames[0]?.body as Buffer)).toMatchObject({ kind: 'startup', params: { user: 'fuzz', database: 'db' } });
        expect(frames.slice(1).map((f) => decodeFrontend(f.tag as number, f.body))).toEqual(messages.map((m) => m.expected));
      }),
      RUNS,
    );
  });

  it('random SCRAM server messages throw nothing but ProtocolError', () => {
    const attr = fc.oneof(
      fc.constantFrom('r=nonceSERVER', 'r=other', 's=c2FsdA==', 's=', 'i=1', 'i=0', 'i=99999999999', 'e=bad', 'v=AAAA', 'm=x', ''),
      fc.string({ maxLength: 12 }),
    );
    const start = scramStart('nonce').state;
    const cont = scramContinue(start, Buffer.from('r=nonceSERVER,s=c2FsdA==,i=1'), 'pw').state;
    fc.assert(
      fc.property(fc.array(attr, { maxLength: 4 }), fc.uint8Array({ maxLength: 32 }), (attrs, raw) => {
        const message = Buffer.from(attrs.join(','));
        onlyProtocolError(() => scramContinue(start, message, 'pw'));
        onlyProtocolError(() => scramFinish(cont, message));
        onlyProtocolError(() => scramFinish(cont, Buffer.from(raw)));
      }),
      RUNS,
    );
  });
});
