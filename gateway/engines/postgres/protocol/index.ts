/**
 * The pure PostgreSQL v3 wire codec: framing, decoding and encoding. No I/O.
 *
 * @see https://www.postgresql.org/docs/current/protocol.html
 */
export * from './constants.js';
export { Reader } from './reader.js';
export { buildFrame } from './writer.js';
export type { Part } from './writer.js';
export { createFramer, wireBytes } from './framer.js';
export type { Frame, Framer, FramerOptions } from './framer.js';
export { decodeFrontend, decodePasswordMessage, decodeSaslInitialResponse, decodeStartupPacket } from './frontend.js';
export type { DescribeTarget, FrontendMessage, StartupPacket } from './frontend.js';
export { commandTagRows, decodeBackend } from './backend.js';
export type { Authentication, BackendMessage, ErrorFields, FieldDescription } from './backend.js';
export * from './encode.js';
export { saltedPassword, scramContinue, scramFinish, scramStart, SCRAM_SHA_256 } from './scram.js';
export type { ScramContinueState, ScramStartState } from './scram.js';
export { md5Password } from './md5.js';
