import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import {
  decodeFrontend,
  decodePasswordMessage,
  decodeSaslInitialResponse,
  decodeStartupPacket,
} from '../../../../../../gateway/engines/postgres/protocol/frontend.js';
import type { FrontendMessage } from '../../../../../../gateway/engines/postgres/protocol/frontend.js';
import { bodyOf, cancelRequest, cstr, int16, int32, int8, lenBytes, msg, startup, untagged } from '../../../../../helpers/pg-bytes.js';

/** Decodes one whole tagged frame, checking its length word on the way. */
function decode(frame: Buffer): FrontendMessage {
  expect(frame.readInt32BE(1)).toBe(frame.length - 1);
  return decodeFrontend(frame[0] as number, bodyOf(frame));
}

describe('decodeStartupPacket', () => {
  it('decodes a StartupMessage from the byte builder', () => {
    const p = decodeStartupPacket(bodyOf(startup({ user: 'alice', database: 'app', options: '-c search_path=x' }), false));
    expect(p).toEqual({ kind: 'startup', version: 196608, params: { user: 'alice', database: 'app', options: '-c search_path=x' } });
  });

  it('decodes what node-postgres sends', () => {
    const p = decodeStartupPacket(bodyOf(serialize.startup({ user: 'bob', database: 'db', application_name: 'app' }), false));
    expect(p).toEqual({
      kind: 'startup',
      version: 196608,
      params: { user: 'bob', database: 'db', application_name: 'app', client_encoding: 'UTF8' },
    });
  });

  it('accepts protocol 3.2 from PostgreSQL 18 clients, and any 3.x minor', () => {
    expect(decodeStartupPacket(bodyOf(startup({ user: 'x' }, 196610), false))).toMatchObject({ version: 196610 });
    expect(decodeStartupPacket(bodyOf(startup({ user: 'x' }, 196608 + 9), false))).toMatchObject({ version: 196617 });
  });

  it.each([
    ['2.0', 0x20000],
    ['4.0', 0x40000],
    ['0.0', 0],
  ])('rejects protocol %s', (_v, version) => {
    expect(() => decodeStartupPacket(bodyOf(startup({ user: 'x' }, version), false))).toThrow(/unsupported frontend protocol/);
  });

  it('decodes SSLRequest, including node-postgres bytes, and GSSENCRequest', () => {
    expect(decodeStartupPacket(bodyOf(serialize.requestSsl(), false))).toEqual({ kind: 'ssl' });
    expect(decodeStartupPacket(int32(80877104))).toEqual({ kind: 'gssenc' });
  });

  it('rejects SSLRequest and GSSENCRequest with trailing bytes', () => {
    expect(() => decodeStartupPacket(Buffer.concat([int32(80877103), int8(0)]))).toThrow(ProtocolError);
    expect(() => decodeStartupPacket(Buffer.concat([int32(80877104), int8(0)]))).toThrow(ProtocolError);
  });

  it('decodes a 3.0 CancelRequest from node-postgres', () => {
    const p = decodeStartupPacket(bodyOf(serialize.cancel(4242, 0x01020304), false));
    expect(p).toEqual({ kind: 'cancel', pid: 4242, secret: Buffer.from([1, 2, 3, 4]) });
  });

  it('decodes a 3.2 CancelRequest with a 32-byte key', () => {
    const secret = Buffer.alloc(32, 0xab);
    expect(decodeStartupPacket(bodyOf(cancelRequest(7, secret), false))).toEqual({ kind: 'cancel', pid: 7, secret });
  });

  it.each([0, 3, 257])('rejects a cancel key of %i bytes', (n) => {
    expect(() => decodeStartupPacket(bodyOf(cancelRequest(7, Buffer.alloc(n)), false))).toThrow(/cancel key/);
  });

  it('rejects a missing or empty user', () => {
    expect(() => decodeStartupPacket(bodyOf(startup({ database: 'x' }), false))).toThrow(/no user name/);
    expect(() => decodeStartupPacket(bodyOf(startup({ user: '' }), false))).toThrow(/no user name/);
  });

  it('rejects duplicate keys', () => {
    const body = bodyOf(untagged(int32(196608), cstr('user'), cstr('a'), cstr('user'), cstr('b'), int8(0)), false);
    expect(() => decodeStartupPacket(body)).toThrow(/duplicate startup parameter "user"/);
  });

  it('rejects missing terminators', () => {
    // no final empty key
    expect(() => decodeStartupPacket(Buffer.concat([int32(196608), cstr('user'), cstr('a')]))).toThrow(ProtocolError);
    // value without its NUL
    expect(() => decodeStartupPacket(Buffer.concat([int32(196608), cstr('user'), Buffer.from('a')]))).toThrow(ProtocolError);
    // key without a value
    expect(() => decodeStartupPacket(Buffer.concat([int32(196608), cstr('user'), int8(0)]))).toThrow(ProtocolError);
  });

  it('rejects bytes after the terminator, and a body too short for the code', () => {
    expect(() => decodeStartupPacket(Buffer.concat([bodyOf(startup({ user: 'a' }), false), int8(1)]))).toThrow(/trailing/);
    expect(() => decodeStartupPacket(Buffer.from([0, 3]))).toThrow(ProtocolError);
  });

  it('keeps a "__proto__" key as plain data', () => {
    const p = decodeStartupPacket(bodyOf(startup({ user: 'a', ['__proto__']: 'x' }), false));
    expect(p.kind === 'startup' && Object.getPrototypeOf(p.params)).toBeNull();
    expect(p.kind === 'startup' && p.params['__proto__']).toBe('x');
  });
});

describe('decodeFrontend', () => {
  it('Query', () => {
    expect(decode(msg('Q', cstr('select 1')))).toEqual({ type: 'Query', sql: 'select 1' });
    expect(decode(serialize.query('select \'ü\''))).toEqual({ type: 'Query', sql: "select 'ü'" });
  });

  it('Parse', () => {
    expect(decode(msg('P', cstr('s1'), cstr('select $1, $2'), int16(2), int32(23), int32(0xfffffff0)))).toEqual({
      type: 'Parse', name: 's1', sql: 'select $1, $2', paramTypes: [23, 0xfffffff0],
    });
    expect(decode(serialize.parse({ name: 'q', text: 'select $1', types: [25] }))).toEqual({
      type: 'Parse', name: 'q', sql: 'select $1', paramTypes: [25],
    });
    expect(decode(serialize.parse({ text: 'select 1' }))).toEqual({ type: 'Parse', name: '', sql: 'select 1', paramTypes: [] });
  });

  it('Bind from the byte builder', () => {
    const frame = msg('B', cstr('p1'), cstr('s1'), int16(2), int16(0), int16(1), int16(3),
      lenBytes('42'), lenBytes(null), lenBytes(Buffer.from([0, 1])), int16(1), int16(1));
    expect(decode(frame)).toEqual({
      type: 'Bind', portal: 'p1', statement: 's1', paramFormats: [0, 1],
      params: [Buffer.from('42'), null, Buffer.from([0, 1])], resultFormats: [1],
    });
  });

  it('Bind from node-postgres', () => {
    const frame = serialize.bind({ portal: 'p', statement: 's', values: ['a', null, Buffer.from([9])], binary: true });
    expect(decode(frame)).toEqual({
      type: 'Bind', portal: 'p', statement: 's', paramFormats: [0, 0, 1],
      params: [Buffer.from('a'), null, Buffer.from([9])], resultFormats: [1],
    });
    expect(decode(serialize.bind())).toEqual({
      type: 'Bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [0],
    });
  });

  it('Describe and Close', () => {
    expect(decode(msg('D', Buffer.from('S'), cstr('s1')))).toEqual({ type: 'Describe', target: 'S', name: 's1' });
    expect(decode(serialize.describe({ type: 'P', name: 'cur' }))).toEqual({ type: 'Describe', target: 'P', name: 'cur' });
    expect(decode(serialize.describe({ type: 'S' }))).toEqual({ type: 'Describe', target: 'S', name: '' });
    expect(decode(serialize.close({ type: 'S', name: 's1' }))).toEqual({ type: 'Close', target: 'S', name: 's1' });
    expect(decode(msg('C', Buffer.from('P'), cstr('')))).toEqual({ type: 'Close', target: 'P', name: '' });
  });

  it('rejects a Describe or Close target other than S or P', () => {
    expect(() => decode(msg('D', Buffer.from('X'), cstr('')))).toThrow(/neither 'S' nor 'P'/);
    expect(() => decode(msg('C', Buffer.from('s'), cstr('')))).toThrow(ProtocolError);
  });

  it('Execute', () => {
    expect(decode(msg('E', cstr('p'), int32(100)))).toEqual({ type: 'Execute', portal: 'p', maxRows: 100 });
    expect(decode(serialize.execute())).toEqual({ type: 'Execute', portal: '', maxRows: 0 });
    expect(decode(serialize.execute({ portal: 'c', rows: 5 }))).toEqual({ type: 'Execute', portal: 'c', maxRows: 5 });
  });

  it('bodiless messages', () => {
    expect(decode(serialize.sync())).toEqual({ type: 'Sync' });
    expect(decode(serialize.flush())).toEqual({ type: 'Flush' });
    expect(decode(serialize.copyDone())).toEqual({ type: 'CopyDone' });
    expect(decode(serialize.end())).toEqual({ type: 'Terminate' });
    expect(decode(msg('S'))).toEqual({ type: 'Sync' });
  });

  it.each(['S', 'H', 'c', 'X'])('rejects a %s with a body', (tag) => {
    expect(() => decode(msg(tag, int8(0)))).toThrow(/expected an empty body/);
  });

  it('CopyData, CopyFail', () => {
    const data = Buffer.from('1\tone\n2\ttwo\n');
    expect(decode(serialize.copyData(data))).toEqual({ type: 'CopyData', data });
    expect(decode(msg('d'))).toEqual({ type: 'CopyData', data: Buffer.alloc(0) });
    expect(decode(serialize.copyFail('client gave up'))).toEqual({ type: 'CopyFail', message: 'client gave up' });
  });

  it('PasswordLike stays raw; the auth state picks the reading', () => {
    const pw = decode(serialize.password('s3cret'));
    expect(pw).toEqual({ type: 'PasswordLike', data: cstr('s3cret') });
    expect(pw.type === 'PasswordLike' && decodePasswordMessage(pw.data)).toBe('s3cret');

    const init = decode(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc'));
    expect(init.type === 'PasswordLike' && decodeSaslInitialResponse(init.data)).toEqual({
      mechanism: 'SCRAM-SHA-256', data: Buffer.from('n,,n=,r=abc'),
    });
    expect(decodeSaslInitialResponse(Buffer.concat([cstr('X'), int32(-1)]))).toEqual({ mechanism: 'X', data: null });

    const fin = decode(serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz'));
    expect(fin).toEqual({ type: 'PasswordLike', data: Buffer.from('c=biws,r=abc,p=xyz') });
  });

  it('rejects malformed password readings', () => {
    expect(() => decodePasswordMessage(Buffer.from('no-nul'))).toThrow(ProtocolError);
    expect(() => decodePasswordMessage(Buffer.concat([cstr('a'), int8(1)]))).toThrow(ProtocolError);
    expect(() => decodeSaslInitialResponse(Buffer.concat([cstr('X'), int32(10), Buffer.from('ab')]))).toThrow(ProtocolError);
  });

  it('FunctionCall', () => {
    const frame = msg('F', int32(1598), int16(1), int16(0), int16(2), lenBytes('x'), lenBytes(null), int16(1));
    expect(decode(frame)).toEqual({
      type: 'FunctionCall', oid: 1598, argFormats: [0], args: [Buffer.from('x'), null], resultFormat: 1,
    });
  });

  it('Unknown tags pass through with their body', () => {
    expect(decode(msg('z', Buffer.from([1, 2, 3])))).toEqual({ type: 'Unknown', tag: 0x7a, body: Buffer.from([1, 2, 3]) });
  });

  it.each([
    ['Query without NUL', msg('Q', Buffer.from('select 1'))],
    ['Query with trailing bytes', msg('Q', cstr('select 1'), int8(9))],
    ['Parse truncated in the types', msg('P', cstr(''), cstr('x'), int16(2), int32(23))],
    ['Bind with a length below -1', msg('B', cstr(''), cstr(''), int16(0), int16(1), int32(-2), int16(0))],
    ['Bind value past the end', msg('B', cstr(''), cstr(''), int16(0), int16(1), int32(100), Buffer.from('ab'))],
    ['Bind without result formats', msg('B', cstr(''), cstr(''), int16(0), int16(0))],
    ['Execute without maxRows', msg('E', cstr(''))],
    ['CopyFail without NUL', msg('f', Buffer.from('x'))],
    ['FunctionCall truncated', msg('F', int32(1), int16(0), int16(0))],
    ['Describe empty', msg('D')],
  ])('rejects %s', (_name, frame) => {
    expect(() => decode(frame)).toThrow(ProtocolError);
  });

  it('returns slices of the body, not copies', () => {
    const frame = msg('d', Buffer.from('abc'));
    const m = decode(frame);
    expect(m.type === 'CopyData' && m.data.buffer).toBe(frame.buffer);
  });
});
