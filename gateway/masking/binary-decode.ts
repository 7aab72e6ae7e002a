/**
 * Reads PostgreSQL binary-format values just far enough for detectors to inspect them. Each function returns
 * null on bytes it cannot read, and the caller fails closed (masks the value).
 *
 * @see https://github.com/postgres/postgres/blob/master/src/backend/utils/adt/numeric.c (numeric_send)
 * @see https://github.com/postgres/postgres/blob/master/src/backend/utils/adt/arrayfuncs.c (array_send)
 */

/** int2, int4 or int8 as decimal text. */
export function decodeInteger(b: Buffer): string | null {
  switch (b.length) {
    case 2: return String(b.readInt16BE(0));
    case 4: return String(b.readInt32BE(0));
    case 8: return b.readBigInt64BE(0).toString();
    default: return null;
  }
}

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;

/** numeric as decimal text (`NaN` and infinities as words). Digits are base 10000, `weight` counts groups. */
export function decodeNumeric(b: Buffer): string | null {
  if (b.length < 8) return null;
  const ndigits = b.readUInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readUInt16BE(6);
  if (b.length !== 8 + ndigits * 2 || dscale > 0x3fff) return null;
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) return sign === 0xc000 ? 'NaN' : sign === 0xd000 ? 'Infinity' : sign === 0xf000 ? '-Infinity' : null;
  const digit = (i: number): number => (i >= 0 && i < ndigits ? b.readUInt16BE(8 + i * 2) : 0);
  for (let i = 0; i < ndigits; i++) if (digit(i) > 9999) return null;
  if (weight > 1000 || weight < -1000) return null;
  let int = '';
  for (let i = 0; i <= weight; i++) int += i === 0 ? String(digit(i)) : String(digit(i)).padStart(4, '0');
  if (int === '') int = '0';
  let frac = '';
  for (let i = weight + 1; frac.length < dscale; i++) frac += String(digit(i)).padStart(4, '0');
  frac = frac.slice(0, dscale);
  return (sign === NUMERIC_NEG ? '-' : '') + int + (frac ? `.${frac}` : '');
}

export interface BinaryArray {
  elementOid: number;
  /** The elements in storage order; null for NULL elements. Slices of the input. */
  elements: (Buffer | null)[];
}

/** A binary array's element type and elements, or null if the bytes do not hold one. */
export function decodeArray(b: Buffer): BinaryArray | null {
  if (b.length < 12) return null;
  const ndim = b.readInt32BE(0);
  const flags = b.readInt32BE(4);
  const elementOid = b.readUInt32BE(8);
  if (ndim < 0 || ndim > 6 || (flags !== 0 && flags !== 1)) return null;
  let off = 12;
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) {
    if (off + 8 > b.length) return null;
    const size = b.readInt32BE(off);
    if (size < 0) return null;
    count *= size;
    off += 8;
  }
  // Each element takes at least its 4-byte length: a count beyond that is a lie, refuse before looping.
  if (count > (b.length - off) / 4) return null;
  const elements: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) {
    if (off + 4 > b.length) return null;
    const len = b.readInt32BE(off);
    off += 4;
    if (len === -1) {
      elements.push(null);
      continue;
    }
    if (len < 0 || off + len > b.length) return null;
    elements.push(b.subarray(off, off + len));
    off += len;
  }
  return off === b.length ? { elementOid, elements } : null;
}
