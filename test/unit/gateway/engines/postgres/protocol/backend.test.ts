import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import { commandTagRows, decodeBackend } from '../../../../../../gateway/engines/postgres/protocol/backend.js';
import type { BackendMessage } from '../../../../../../gateway/engines/postgres/protocol/backend.js';
import { bodyOf, cstr, int16, int32, int8, lenBytes, msg } from '../../../../../helpers/pg-bytes.js';

function decode(frame: Buffer): BackendMessage {
  return decodeBackend(frame[0] as number, bodyOf(frame));
}

describe('decodeBackend: authentication', () => {
  it.each([
    ['ok', msg('R', int32(0)), { type: 'Authentication', kind: 'ok' }],
    ['cleartext', msg('R', int32(3)), { type: 'Authentication', kind: 'cleartext' }],
    ['md5', msg('R', int32(5), Buffer.from([1, 2, 3, 4])), { type: 'Authentication', kind: 'md5', salt: Buffer.from([1, 2, 3, 4]) }],
    ['sasl', msg('R', int32(10), cstr('SCRAM-SHA-256-PLUS'), cstr('SCRAM-SHA-256'), int8(0)),
      { type: 'Authentication', kind: 'sasl', mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] }],
    ['saslContinue', msg('R', int32(11), Buffer.from('r=abc,s=xyz,i=4096')),
      { type: 'Authentication', kind: 'saslContinue', data: Buffer.from('r=abc,s=xyz,i=4096') }],
    ['saslFinal', msg('R', int32(12), Buffer.from('v=abc')), { type: 'Authentication', kind: 'saslFinal', data: Buffer.from('v=abc') }],
    ['other (GSS)', msg('R', int32(7)), { type: 'Authentication', kind: 'other', code: 7, data: Buffer.alloc(0) }],
  ])('%s', (_name, frame, expected) => {
    expect(decode(frame)).toEqual(expected);
  });

  it.each([
    ['ok with trailing bytes', msg('R', int32(0), int8(0))],
    ['md5 with a short salt', msg('R', int32(5), Buffer.from([1, 2, 3]))],
    ['md5 with a long salt', msg('R', int32(5), Buffer.from([1, 2, 3, 4, 5]))],
    ['sasl without the list terminator', msg('R', int32(10), cstr('SCRAM-SHA-256'))],
    ['sasl with no mechanism', msg('R', int32(10), int8(0))],
    ['no code', msg('R', int16(0))],
  ])('rejects %s', (_name, frame) => {
    expect(() => decode(frame)).toThrow(ProtocolError);
  });
});

describe('decodeBackend', () => {
  it('ParameterStatus', () => {
    expect(decode(msg('S', cstr('TimeZone'), cstr('UTC')))).toEqual({ type: 'ParameterStatus', name: 'TimeZone', value: 'UTC' });
  });

  it('BackendKeyData with 3.0 and 3.2 keys', () => {
    expect(decode(msg('K', int32(99), int32(0x01020304)))).toEqual({ type: 'BackendKeyData', pid: 99, secret: Buffer.from([1, 2, 3, 4]) });
    const long = Buffer.alloc(256, 5);
    expect(decode(msg('K', int32(99), long))).toEqual({ type: 'BackendKeyData', pid: 99, secret: long });
    expect(() => decode(msg('K', int32(99), Buffer.alloc(257)))).toThrow(/cancel key/);
    expect(() => decode(msg('K', int32(99), Buffer.alloc(3)))).toThrow(/cancel key/);
  });

  it.each(['I', 'T', 'E'] as const)('ReadyForQuery %s', (s) => {
    expect(decode(msg('Z', Buffer.from(s)))).toEqual({ type: 'ReadyForQuery', status: s });
  });

  it('rejects an unknown transaction status', () => {
    expect(() => decode(msg('Z', Buffer.from('X')))).toThrow(/unknown transaction status/);
    expect(() => decode(msg('Z'))).toThrow(ProtocolError);
  });

  it('RowDescription', () => {
    const frame = msg('T', int16(2),
      cstr('id'), int32(16384), int16(1), int32(23), int16(4), int32(-1), int16(0),
      cstr('note'), int32(0), int16(0), int32(1043), int16(-1), int32(104), int16(1));
    expect(decode(frame)).toEqual({
      type: 'RowDescription',
      fields: [
        { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
        { name: 'note', tableOid: 0, columnAttr: 0, typeOid: 1043, typeSize: -1, typeModifier: 104, format: 1 },
      ],
    });
    expect(() => decode(msg('T', int16(2), cstr('id'), int32(0), int16(0), int32(23), int16(4), int32(-1), int16(0)))).toThrow(ProtocolError);
  });

  it('DataRow', () => {
    expect(decode(msg('D', int16(3), lenBytes('1'), lenBytes(null), lenBytes('')))).toEqual({
      type: 'DataRow', values: [Buffer.from('1'), null, Buffer.alloc(0)],
    });
    expect(() => decode(msg('D', int16(1), int32(5), Buffer.from('abc')))).toThrow(ProtocolError);
    expect(() => decode(msg('D', int16(0), int8(0)))).toThrow(/trailing/);
  });

  it('CommandComplete', () => {
    expect(decode(msg('C', cstr('INSERT 0 3')))).toEqual({ type: 'CommandComplete', tag: 'INSERT 0 3' });
  });

  it('ErrorResponse and NoticeResponse keyed by field code', () => {
    const body = [int8(0x53), cstr('ERROR'), int8(0x56), cstr('ERROR'), int8(0x43), cstr('42P01'),
      int8(0x4d), cstr('relation "x" does not exist'), int8(0x50), cstr('15'), int8(0)];
    const fields = { S: 'ERROR', V: 'ERROR', C: '42P01', M: 'relation "x" does not exist', P: '15' };
    expect(decode(msg('E', ...body))).toEqual({ type: 'ErrorResponse', fields });
    expect(decode(msg('N', ...body))).toEqual({ type: 'NoticeResponse', fields });
    expect(decode(msg('E', int8(0)))).toEqual({ type: 'ErrorResponse', fields: {} });
    expect(() => decode(msg('E', int8(0x53), cstr('ERROR')))).toThrow(ProtocolError);
    expect(() => decode(msg('E', int8(0x53), Buffer.from('ERROR')))).toThrow(ProtocolError);
  });

  it('NotificationResponse', () => {
    expect(decode(msg('A', int32(77), cstr('jobs'), cstr('{"id":1}')))).toEqual({
      type: 'NotificationResponse', pid: 77, channel: 'jobs', payload: '{"id":1}',
    });
  });

  it.each([
    ['G', 'CopyInResponse'],
    ['H', 'CopyOutResponse'],
    ['W', 'CopyBothResponse'],
  ])('%s is %s', (tag, type) => {
    expect(decode(msg(tag, int8(0), int16(2), int16(0), int16(0)))).toEqual({ type, format: 0, columnFormats: [0, 0] });
    expect(() => decode(msg(tag, int8(0), int16(2), int16(0)))).toThrow(ProtocolError);
  });

  it('CopyData and CopyDone', () => {
    expect(decode(msg('d', Buffer.from('row\n')))).toEqual({ type: 'CopyData', data: Buffer.from('row\n') });
    expect(decode(msg('c'))).toEqual({ type: 'CopyDone' });
  });

  it.each([
    ['1', 'ParseComplete'],
    ['2', 'BindComplete'],
    ['3', 'CloseComplete'],
    ['n', 'NoData'],
    ['s', 'PortalSuspended'],
    ['I', 'EmptyQueryResponse'],
    ['c', 'CopyDone'],
  ])('%s is %s, with an empty body only', (tag, type) => {
    expect(decode(msg(tag))).toEqual({ type });
    expect(() => decode(msg(tag, int8(0)))).toThrow(/expected an empty body/);
  });

  it('ParameterDescription', () => {
    expect(decode(msg('t', int16(2), int32(23), int32(25)))).toEqual({ type: 'ParameterDescription', typeOids: [23, 25] });
  });

  it('FunctionCallResponse', () => {
    expect(decode(msg('V', lenBytes('42')))).toEqual({ type: 'FunctionCallResponse', value: Buffer.from('42') });
    expect(decode(msg('V', lenBytes(null)))).toEqual({ type: 'FunctionCallResponse', value: null });
  });

  it('NegotiateProtocolVersion', () => {
    expect(decode(msg('v', int32(0), int32(2), cstr('_pq_.a'), cstr('_pq_.b')))).toEqual({
      type: 'NegotiateProtocolVersion', minor: 0, unrecognized: ['_pq_.a', '_pq_.b'],
    });
    expect(() => decode(msg('v', int32(0), int32(-1)))).toThrow(/invalid option count/);
    expect(() => decode(msg('v', int32(0), int32(1)))).toThrow(ProtocolError);
  });

  it('Unknown', () => {
    expect(decode(msg('~', Buffer.from('?')))).toEqual({ type: 'Unknown', tag: 0x7e, body: Buffer.from('?') });
  });
});

describe('commandTagRows', () => {
  it.each([
    ['SELECT 5', 5],
    ['SELECT 0', 0],
    ['INSERT 0 3', 3],
    ['INSERT 16384 1', 1],
    ['UPDATE 12', 12],
    ['DELETE 1', 1],
    ['MERGE 4', 4],
    ['FETCH 100', 100],
    ['MOVE 2', 2],
    ['COPY 10', 10],
    ['CREATE TABLE', null],
    ['BEGIN', null],
    ['SELECT', null],
    ['INSERT 3', null],
    ['SELECT 5 ', null],
    ['', null],
  ])('%j → %j', (tag, rows) => {
    expect(commandTagRows(tag)).toBe(rows);
  });
});
