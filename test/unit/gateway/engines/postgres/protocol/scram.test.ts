import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../../../../shared/errors.js';
import { scramContinue, scramFinish, scramStart } from '../../../../../../gateway/engines/postgres/protocol/scram.js';

// RFC 7677, section 3.
const RFC = {
  user: 'user',
  password: 'pencil',
  clientNonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

const b = (s: string) => Buffer.from(s, 'utf8');

describe('SCRAM-SHA-256 against RFC 7677', () => {
  it('produces the published client-first and client-final messages and accepts the server-final', () => {
    const start = scramStart(RFC.clientNonce, RFC.user);
    expect(start.message.toString()).toBe(RFC.clientFirst);
    const cont = scramContinue(start.state, b(RFC.serverFirst), RFC.password);
    expect(cont.message.toString()).toBe(RFC.clientFinal);
    expect(() => scramFinish(cont.state, b(RFC.serverFinal))).not.toThrow();
  });

  it('rejects a server-final with the wrong signature', () => {
    const cont = scramContinue(scramStart(RFC.clientNonce, RFC.user).state, b(RFC.serverFirst), RFC.password);
    expect(() => scramFinish(cont.state, b('v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='))).toThrow(/does not match/);
    expect(() => scramFinish(cont.state, b('v=AAAA'))).toThrow(/does not match/);
  });

  it('rejects the vector with the wrong password', () => {
    const cont = scramContinue(scramStart(RFC.clientNonce, RFC.user).state, b(RFC.serverFirst), 'pencil2');
    expect(cont.message.toString()).not.toBe(RFC.clientFinal);
    expect(() => scramFinish(cont.state, b(RFC.serverFinal))).toThrow(ProtocolError);
  });
});

describe('scramStart', () => {
  it('sends an empty user name by default, as libpq does', () => {
    expect(scramStart('abc').message.toString()).toBe('n,,n=,r=abc');
  });

  it('escapes = and , in the user name', () => {
    expect(scramStart('abc', 'a=b,c').message.toString()).toBe('n,,n=a=3Db=2Cc,r=abc');
  });

  it.each(['', 'has,comma', 'has space', 'ünïcode'])('rejects the nonce %j', (nonce) => {
    expect(() => scramStart(nonce)).toThrow(ProtocolError);
  });
});

describe('scramContinue', () => {
  const start = () => scramStart('clientnonce').state;

  it.each([
    ['a nonce that does not extend the client nonce', 'r=othernonce123,s=c2FsdA==,i=4096', /does not extend/],
    ['a nonce equal to the client nonce', 'r=clientnonce,s=c2FsdA==,i=4096', /does not extend/],
    ['no salt', 'r=clientnonceXYZ,i=4096', /must be r=/],
    ['an empty salt', 'r=clientnonceXYZ,s=,i=4096', /salt is empty/],
    ['a salt that is not base64', 'r=clientnonceXYZ,s=c2F*dA==,i=4096', /base64/],
    ['iteration count 0', 'r=clientnonceXYZ,s=c2FsdA==,i=0', /iteration count/],
    ['a negative iteration count', 'r=clientnonceXYZ,s=c2FsdA==,i=-1', /iteration count/],
    ['a non-numeric iteration count', 'r=clientnonceXYZ,s=c2FsdA==,i=4k', /iteration count/],
    ['an iteration count above 2^31', 'r=clientnonceXYZ,s=c2FsdA==,i=4294967296', /iteration count/],
    ['attributes out of order', 's=c2FsdA==,r=clientnonceXYZ,i=4096', /must be r=/],
    ['a mandatory extension', 'm=ext,r=clientnonceXYZ,s=c2FsdA==,i=4096', /extension/],
    ['garbage', 'hello', /malformed SCRAM/],
    ['nothing', '', /malformed SCRAM/],
  ])('rejects %s', (_name, serverFirst, error) => {
    expect(() => scramContinue(start(), b(serverFirst), 'pw')).toThrow(error);
  });
});

describe('scramFinish', () => {
  const state = () => scramContinue(scramStart(RFC.clientNonce, RFC.user).state, b(RFC.serverFirst), RFC.password).state;

  it('reports a server error (e=)', () => {
    expect(() => scramFinish(state(), b('e=invalid-proof'))).toThrow(/failed on the server: invalid-proof/);
  });

  it.each(['', 'x', 'v=not base64!', 'r=abc'])('rejects %j', (msg) => {
    expect(() => scramFinish(state(), b(msg))).toThrow(ProtocolError);
  });
});

describe('a whole exchange against an independent server-side computation', () => {
  it('the server accepts our proof and we accept its signature (NFKC-normalised password)', () => {
    const password = 'ｐａｓｓ'; // full-width: NFKC maps it to "pass", as SASLprep would
    const salt = Buffer.from('0123456789abcdef');
    const iterations = 16;
    const start = scramStart('cnonce');
    const clientFirstBare = start.message.toString().slice(3);
    const serverFirst = `r=cnonceSNONCE,s=${salt.toString('base64')},i=${iterations}`;
    const cont = scramContinue(start.state, b(serverFirst), password);

    // Server side, written out from RFC 5802 section 3 with the password the server stored ("pass").
    const hmac = (k: Buffer, s: string) => createHmac('sha256', k).update(s).digest();
    const salted = pbkdf2Sync('pass', salt, iterations, 32, 'sha256');
    const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
    const clientFinal = cont.message.toString();
    const [withoutProof, proofAttr] = [clientFinal.slice(0, clientFinal.lastIndexOf(',p=')), clientFinal.slice(clientFinal.lastIndexOf(',p=') + 3)];
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = Buffer.from(proofAttr, 'base64');
    const sig = hmac(storedKey, authMessage);
    const clientKey = Buffer.from(proof.map((x, i) => x ^ (sig[i] as number)));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey)).toBe(true);

    const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64');
    expect(() => scramFinish(cont.state, b(`v=${serverSignature}`))).not.toThrow();
  });
});
