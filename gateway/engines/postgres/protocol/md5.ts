import { createHash } from 'node:crypto';
import { ProtocolError } from '../../../../shared/errors.js';

/**
 * The answer to AuthenticationMD5Password: 'md5' + md5hex(md5hex(password + user) + salt).
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONMD5PASSWORD
 */
export function md5Password(user: string, password: string, salt: Buffer): string {
  if (salt.length !== 4) throw new ProtocolError(`MD5 salt must be 4 bytes, got ${salt.length}`);
  const inner = createHash('md5').update(password, 'utf8').update(user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(inner, 'latin1').update(salt).digest('hex');
}
