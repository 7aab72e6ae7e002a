import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import * as enc from '../../../../../../gateway/engines/postgres/protocol/encode.js';
import { createFramer } from '../../../../../../gateway/engines/postgres/protocol/framer.js';
import { decodeBackend } from '../../../../../../gateway/engines/postgres/protocol/backend.js';
import type { BackendMessage, FieldDescription } from '../../../../../../gateway/engines/postgres/protocol/backend.js';
import { decodeFrontend, decodeStartupPacket } from '../../../../../../gateway/engines/postgres/protocol/frontend.js';
import { DEFAULT_MAX_FRAME, PROTOCOL_V3_2 } from '../../../../../../gateway/engines/postgres/protocol/constants.js';
import { cancelRequest, cstr, int32, int8, lenBytes, msg, sslRequest, startup } from '../../../../../helpers/pg-bytes.js';

/** encode → framer → decode, checking the frame is whole and alone. */
function roundTripBackend(frame: Buffer): BackendMessage {
  const frames = createFramer({ startup: false, maxLength: DEFAULT_MAX_FRAME }).push(frame);
  expect(frames).toHaveLength(1);
  const [f] = frames;
  expect(f?.raw.equals(frame)).toBe(true);
  return decodeBackend(f?.tag as number, f?.body as Buffer);
}

/** What node-postgres's own (independent) parser makes of our backend bytes. */
function pgParse(frame: Buffer): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  new Parser().parse(frame, (m) => out.push(m as unknown as Record<string, unknown>));
  return out;
}

const fields: FieldDescription[] = [
  { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeModifier: -1, format: 0 },
  { name: 'émail', tableOid: 0xfffffffe, columnAttr: 2, typeOid: 25, typeSize: -1, typeModifier: -1, format: 1 },
];

describe('backend encoders', () => {
  it('ErrorResponse writes S, V, C, M then the optional fields', () => {
    const frame = enc.encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'blocked by policy', detail: 'd', hint: 'ask for approval' });
    expect(frame.equals(msg('E',
      int8(0x53), cstr('ERROR'), int8(0x56), cstr('ERROR'), int8(0x43), cstr('42501'), int8(0x4d), cstr('blocked by policy'),
      int8(0x44), cstr('d'), int8(0x48), cstr('ask for approval'), int8(0)))).toBe(true);
    expect(roundTripBackend(frame)).toEqual({
      type: 'ErrorResponse',
      fields: { S: 'ERROR', V: 'ERROR', C: '42501', M: 'blocked by policy', D: 'd', H: 'ask for approval' },
    });
    const [parsed] = pgParse(frame);
    expect(parsed).toMatchObject({ name: 'error', severity: 'ERROR', code: '42501', message: 'blocked by policy', detail: 'd', hint: 'ask for approval' });
  });

  it('ErrorResponse carries every optional field', () => {
    const all = {
      severity: 'FATAL', code: '28000', message: 'm', detail: 'D', hint: 'H', position: '1', internalPosition: '2', internalQuery: 'q',
      where: 'W', schema: 's', table: 't', column: 'c', dataType: 'd', constraint: 'n', file: 'F', line: '9', routine: 'R',
    } as const;
    const m = roundTripBackend(enc.encodeErrorResponse(all));
    expect(m).toEqual({
      type: 'ErrorResponse',
      fields: { S: 'FATAL', V: 'FATAL', C: '28000', M: 'm', D: 'D', H: 'H', P: '1', p: '2', q: 'q', W: 'W', s: 's', t: 't', c: 'c', d: 'd', n: 'n', F: 'F', L: '9', R: 'R' },
    });
  });

  it('NoticeResponse', () => {
    const frame = enc.encodeNoticeResponse({ severity: 'WARNING', code: '01000', message: 'masked 3 columns' });
    expect(roundTripBackend(frame)).toEqual({ type: 'NoticeResponse', fields: { S: 'WARNING', V: 'WARNING', C: '01000', M: 'masked 3 columns' } });
    expect(pgParse(frame)[0]).toMatchObject({ name: 'notice', severity: 'WARNING', message: 'masked 3 columns' });
  });

  it('rejects an invalid SQLSTATE and strings containing NUL', () => {
    expect(() => enc.encodeErrorResponse({ severity: 'ERROR', code: '4250', message: 'x' })).toThrow(/SQLSTATE/);
    expect(() => enc.encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'a\0b' })).toThrow(/NUL/);
    expect(() => enc.encodeQuery('select 1\0; drop table t')).toThrow(ProtocolError);
  });

  it('Authentication Ok and Cleartext', () => {
    expect(enc.encodeAuthenticationOk().equals(msg('R', int32(0)))).toBe(true);
    expect(enc.encodeAuthenticationCleartext().equals(msg('R', int32(3)))).toBe(true);
    expect(roundTripBackend(enc.encodeAuthenticationCleartext())).toEqual({ type: 'Authentication', kind: 'cleartext' });
    expect(pgParse(enc.encodeAuthenticationOk())[0]).toMatchObject({ name: 'authenticationOk' });
  });

  it('ParameterStatus', () => {
    const frame = enc.encodeParameterStatus('server_version', '16.3 (hoop)');
    expect(frame.equals(msg('S', cstr('server_version'), cstr('16.3 (hoop)')))).toBe(true);
    expect(pgParse(frame)[0]).toMatchObject({ parameterName: 'server_version', parameterValue: '16.3 (hoop)' });
  });

  it('BackendKeyData, 4-byte and long keys', () => {
    const frame = enc.encodeBackendKeyData(4321, Buffer.from([0, 0, 0x16, 0x2e]));
    expect(frame.equals(msg('K', int32(4321), int32(5678)))).toBe(true);
    expect(pgParse(frame)[0]).toMatchObject({ processID: 4321, secretKey: 5678 });
    const long = Buffer.alloc(32, 9);
    expect(roundTripBackend(enc.encodeBackendKeyData(1, long))).toEqual({ type: 'BackendKeyData', pid: 1, secret: long });
    expect(() => enc.encodeBackendKeyData(1, Buffer.alloc(2))).toThrow(ProtocolError);
    expect(() => enc.encodeBackendKeyData(2 ** 31, Buffer.alloc(4))).toThrow(ProtocolError);
  });

  it.each(['I', 'T', 'E'] as const)('ReadyForQuery %s', (s) => {
    expect(enc.encodeReadyForQuery(s).equals(msg('Z', Buffer.from(s)))).toBe(true);
    expect(pgParse(enc.encodeReadyForQuery(s))[0]).toMatchObject({ name: 'readyForQuery', status: s });
  });

  it('RowDescription', () => {
    const frame = enc.encodeRowDescription(fields);
    expect(roundTripBackend(frame)).toEqual({ type: 'RowDescription', fields });
    const [parsed] = pgParse(frame);
    expect(parsed).toMatchObject({ name: 'rowDescription', fieldCount: 2 });
    expect((parsed?.['fields'] as { name: string; dataTypeID: number; tableID: number }[]).map((f) => [f.name, f.dataTypeID, f.tableID]))
      .toEqual([['id', 23, 16384], ['émail', 25, 0xfffffffe]]);
  });

  it('DataRow with buffers, strings and nulls', () => {
    const frame = enc.encodeDataRow([Buffer.from('1'), 'ü***', null, '']);
    expect(frame.equals(msg('D', Buffer.from([0, 4]), lenBytes('1'), lenBytes('ü***'), lenBytes(null), lenBytes('')))).toBe(true);
    expect(roundTripBackend(frame)).toEqual({ type: 'DataRow', values: [Buffer.from('1'), Buffer.from('ü***'), null, Buffer.alloc(0)] });
    expect(pgParse(frame)[0]).toMatchObject({ name: 'dataRow', fields: ['1', 'ü***', null, ''] });
  });

  it('CommandComplete and CopyData', () => {
    expect(roundTripBackend(enc.encodeCommandComplete('SELECT 3'))).toEqual({ type: 'CommandComplete', tag: 'SELECT 3' });
    expect(pgParse(enc.encodeCommandComplete('SELECT 3'))[0]).toMatchObject({ name: 'commandComplete', text: 'SELECT 3' });
    const data = Buffer.from('a\tb\n');
    expect(enc.encodeCopyData(data).equals(msg('d', data))).toBe(true);
    expect(roundTripBackend(enc.encodeCopyData(data))).toEqual({ type: 'CopyData', data });
  });

  it('SSL refusal is the single byte N', () => {
    expect(enc.encodeSslNo()).toEqual(Buffer.from('N'));
  });
});

describe('frontend encoders', () => {
  it('StartupMessage matches the builder and decodes back', () => {
    const params = { user: 'alice', database: 'app', application_name: 'hoop' };
    expect(enc.encodeStartupMessage(params).equals(startup(params))).toBe(true);
    expect(enc.encodeStartupMessage({ user: 'a' }, PROTOCOL_V3_2).equals(startup({ user: 'a' }, 196610))).toBe(true);
    const frames = createFramer({ startup: true, maxLength: 10_000 }).push(enc.encodeStartupMessage(params));
    expect(decodeStartupPacket(frames[0]?.body as Buffer)).toEqual({ kind: 'startup', version: 196608, params });
  });

  it('StartupMessage matches node-postgres byte for byte', () => {
    const params = { user: 'bob', database: 'db', client_encoding: 'UTF8' };
    expect(enc.encodeStartupMessage(params).equals(serialize.startup({ user: 'bob', database: 'db' }))).toBe(true);
    expect(() => enc.encodeStartupMessage({ '': 'x' })).toThrow(ProtocolError);
  });

  it('SSLRequest and CancelRequest', () => {
    expect(enc.encodeSslRequest().equals(sslRequest())).toBe(true);
    expect(enc.encodeSslRequest().equals(serialize.requestSsl())).toBe(true);
    expect(enc.encodeCancelRequest(77, Buffer.from([0, 0, 0, 9])).equals(serialize.cancel(77, 9))).toBe(true);
    const long = Buffer.alloc(32, 3);
    expect(enc.encodeCancelRequest(77, long).equals(cancelRequest(77, long))).toBe(true);
  });

  it('password and SASL messages match node-postgres', () => {
    expect(enc.encodePasswordMessage('pw').equals(serialize.password('pw'))).toBe(true);
    expect(enc.encodeSaslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=x'))
      .equals(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=x'))).toBe(true);
    expect(enc.encodeSaslInitialResponse('X', null).equals(msg('p', cstr('X'), int32(-1)))).toBe(true);
    expect(enc.encodeSaslResponse(Buffer.from('c=biws')).equals(serialize.sendSCRAMClientFinalMessage('c=biws'))).toBe(true);
  });

  it('Query, Sync and Terminate match node-postgres and decode back', () => {
    expect(enc.encodeQuery('select 1').equals(serialize.query('select 1'))).toBe(true);
    expect(enc.encodeSync().equals(serialize.sync())).toBe(true);
    expect(enc.encodeTerminate().equals(serialize.end())).toBe(true);
    const stream = Buffer.concat([enc.encodeQuery('select ✓'), enc.encodeSync(), enc.encodeTerminate()]);
    const decoded = createFramer({ startup: false, maxLength: 1000 }).push(stream).map((f) => decodeFrontend(f.tag as number, f.body));
    expect(decoded).toEqual([{ type: 'Query', sql: 'select ✓' }, { type: 'Sync' }, { type: 'Terminate' }]);
  });
});

describe('encoder round-trip properties', () => {
  const text = fc.string({ unit: 'grapheme', maxLength: 24 }).map((s) => s.replace(/\0/g, ''));

  it('DataRow, RowDescription, ParameterStatus and CommandComplete decode to what was encoded', () => {
    const field = fc.record({
      name: text, tableOid: fc.nat({ max: 0xffffffff }), columnAttr: fc.integer({ min: -0x8000, max: 0x7fff }),
      typeOid: fc.nat({ max: 0xffffffff }), typeSize: fc.integer({ min: -0x8000, max: 0x7fff }),
      typeModifier: fc.integer({ min: -0x80000000, max: 0x7fffffff }), format: fc.constantFrom(0, 1),
    });
    const cell = fc.option(fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a)), { nil: null });
    fc.assert(
      fc.property(fc.array(field, { maxLength: 6 }), fc.array(cell, { maxLength: 6 }), text, text, (fs, cells, a, b) => {
        expect(roundTripBackend(enc.encodeRowDescription(fs))).toEqual({ type: 'RowDescription', fields: fs });
        expect(roundTripBackend(enc.encodeDataRow(cells))).toEqual({ type: 'DataRow', values: cells });
        expect(roundTripBackend(enc.encodeParameterStatus(a, b))).toEqual({ type: 'ParameterStatus', name: a, value: b });
        expect(roundTripBackend(enc.encodeCommandComplete(a))).toEqual({ type: 'CommandComplete', tag: a });
      }),
      { numRuns: 500 },
    );
  });
});
