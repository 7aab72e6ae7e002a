import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HoopError, ProtocolError } from '../../../../shared/errors.js';
import { BINARY_COPY_SIGNATURE, createCopyMasker, isBinaryCopy, maskValue, TypeOid } from '../../../../gateway/masking/index.js';
import { ByteWriter } from '../../../../gateway/masking/byte-writer.js';
import type { CopyMaskOptions, MaskAction } from '../../../../gateway/masking/index.js';
import { decodeCsvField, decodeTextField, encodeCsvField, encodeTextField } from '../../../../gateway/masking/copy-fields.js';
import type { CopySyntax } from '../../../../gateway/masking/copy-fields.js';

const ctx = { hashKey: Buffer.from('k') };
const partial: MaskAction = { kind: 'rule', strategy: 'partial' };
const detect: MaskAction = { kind: 'detectors', detectors: ['email', 'credit_card', 'phone'], strategy: 'redact' };
const columns = [{ typeOid: TypeOid.int4 }, { typeOid: TypeOid.text }, { typeOid: TypeOid.text }];

type Opts = Omit<CopyMaskOptions, 'ctx'>;

/** Feeds `chunks` through a fresh masker and returns everything it wrote. */
function run(opts: Opts, chunks: Buffer[]): Buffer {
  const m = createCopyMasker({ ...opts, ctx });
  const out = chunks.map((c) => m.push(c));
  out.push(m.end());
  return Buffer.concat(out);
}

/** Feeds `chunks` as CopyData messages, in one run, through pushMessages; returns the payloads it sent, then end()'s. */
function runAsMessages(opts: Opts, chunks: Buffer[]): Buffer {
  const m = createCopyMasker({ ...opts, ctx });
  const sent = payloadsOf(m.pushMessages(Buffer.concat(chunks.map(copyData))));
  return Buffer.concat([...sent, m.end()]);
}

/**
 * Whole, split at every offset, split in three at every pair of offsets (coarse), and byte by byte; each through
 * push, and as CopyData messages through pushMessages.
 */
function expectSameAtEverySplit(opts: Opts, input: string, expected: string): void {
  const data = Buffer.from(input, 'utf8');
  for (const feed of [run, runAsMessages]) {
    expect(feed(opts, [data]).toString('utf8')).toBe(expected);
    for (let i = 0; i <= data.length; i++) {
      expect(feed(opts, [data.subarray(0, i), data.subarray(i)]).toString('utf8'), `split at ${i}`).toBe(expected);
    }
    for (let i = 0; i <= data.length; i += 3) {
      for (let j = i; j <= data.length; j += 5) {
        expect(feed(opts, [data.subarray(0, i), data.subarray(i, j), data.subarray(j)]).toString('utf8')).toBe(expected);
      }
    }
    const bytes = [...data].map((b) => Buffer.from([b]));
    expect(feed(opts, bytes).toString('utf8')).toBe(expected);
  }
}

describe('COPY text format', () => {
  const opts: Opts = { format: 'text', plan: [null, partial, detect], columns };

  it('masks planned fields, keeps NULLs and escapes, at every split', () => {
    const input = '1\talice@example.com\tcall +1 415-555-0100\n'
      + '2\t\\N\tnothing here\n'
      + '3\tbob@example.org\tline1\\nline2 4242 4242 4242 4242\\ttab\n'
      + '4\tZoë Ünïcode\t\\\\server\\\\share\n';
    const expected = '1\ta***@example.com\tcall ***\n'
      + '2\t\\N\tnothing here\n'
      + '3\tb***@example.org\tline1\\nline2 ***\\ttab\n'
      + '4\tZ***e\t\\\\server\\\\share\n';
    expectSameAtEverySplit(opts, input, expected);
  });

  it('writes NULL for the null strategy, honours a custom NULL, delimiter and header', () => {
    const o: Opts = {
      format: 'text', plan: [null, { kind: 'rule', strategy: 'null' }, detect], columns, delimiter: '|', null: 'NULL', header: true,
    };
    expectSameAtEverySplit(o, 'id|email|note\n1|alice@example.com|a\\|b alice@example.com\n2|NULL|NULL\n',
      'id|email|note\n1|NULL|a\\|b ***\n2|NULL|NULL\n');
  });

  it('keeps a masked value that reads as the NULL string a value (NULL \'***\'): a backslash in front, which COPY drops', () => {
    const o: Opts = { format: 'text', plan: [null, { kind: 'rule', strategy: 'redact' }, detect], columns, null: '***' };
    expectSameAtEverySplit(o, '1\talice@example.com\tjane@corp.example\n2\t***\t***\n', '1\t\\***\t\\***\n2\t***\t***\n');
    expect(decodeTextField(Buffer.from('\\***')).toString()).toBe('***');
  });

  it('counts rows and masked values, and returns unchanged rows as slices of the input', () => {
    const m = createCopyMasker({ ...opts, ctx });
    const chunk = Buffer.from('1\t\\N\tplain\n2\t\\N\talso plain\n');
    const out = m.push(chunk);
    expect(out.equals(chunk)).toBe(true);
    expect(out.buffer).toBe(chunk.buffer);
    m.push(Buffer.from('3\tcarol@example.com\tx\n'));
    expect(m.end().length).toBe(0);
    expect(m.rows).toBe(3);
    expect(m.masked).toEqual([0, 1, 0]);
  });

  it('passes data through untouched when no column is planned', () => {
    const m = createCopyMasker({ format: 'text', plan: [null, null, null], columns, ctx });
    const chunk = Buffer.from('1\talice@example.com\tx\n');
    expect(m.push(chunk)).toBe(chunk);
  });

  it.each([
    ['too few fields', '1\talice@example.com\n'],
    ['too many fields', '1\ta\tb\tc\n'],
  ])('throws ProtocolError on %s', (_n, input) => {
    expect(() => run(opts, [Buffer.from(input)])).toThrow(ProtocolError);
  });

  it('throws ProtocolError when the data ends inside a row, or a row outgrows the cap', () => {
    expect(() => run(opts, [Buffer.from('1\ta\tb')])).toThrow(/ended inside a row/);
    expect(() => run({ ...opts, maxRowBytes: 16 }, [Buffer.from('1\talice@example.com'), Buffer.from('\tmore\n')])).toThrow(/longer than 16/);
  });
});

describe('COPY text field codec', () => {
  it.each([
    ['plain', 'plain'],
    ['a\\tb\\nc\\rd\\be\\ff\\vg', 'a\tb\nc\rd\be\ff\vg'],
    ['back\\\\slash', 'back\\slash'],
    ['\\101\\0621\\x41\\x4a\\x4', 'A21AJ\x04'], // \062 is "2", and only three octal digits are read
    ['\\q\\.', 'q.'],
    ['trailing\\', 'trailing\\'],
  ])('decodes %j', (field, value) => {
    expect(decodeTextField(Buffer.from(field, 'latin1')).toString('latin1')).toBe(value);
  });

  it('encodes what COPY TO escapes', () => {
    expect(encodeTextField(Buffer.from('a\tb\nc\rd\\e|f\bg\fh\vi'), 0x7c).toString()).toBe('a\\tb\\nc\\rd\\\\e\\|f\\bg\\fh\\vi');
    const plain = Buffer.from('nothing to escape');
    expect(encodeTextField(plain, 9)).toBe(plain);
  });
});

describe('COPY csv format', () => {
  const opts: Opts = { format: 'csv', plan: [null, partial, detect], columns, header: true };

  it('masks quoted, unquoted and multi-line fields at every split', () => {
    const input = 'id,email,note\n'
      + '1,alice@example.com,"multi\nline with bob@example.org"\n'
      + '2,,""\n'
      + '3,"carol@example.com","say ""hi"", 4242 4242 4242 4242"\n'
      + '4,"",plain\n';
    const expected = 'id,email,note\n'
      + '1,a***@example.com,"multi\nline with ***"\n'
      + '2,,""\n'
      + '3,"c***@example.com","say ""hi"", ***"\n'
      + '4,"",plain\n';
    expectSameAtEverySplit(opts, input, expected);
  });

  it('quotes masked values that need it and writes NULL as the null string', () => {
    const o: Opts = { format: 'csv', plan: [null, { kind: 'rule', strategy: 'null' }, { kind: 'rule', strategy: 'redact' }], columns };
    expectSameAtEverySplit(o, '1,alice@example.com,x\n2,,""\n', '1,,***\n2,,"***"\n'); // a quoted field stays quoted
    const o2: Opts = { format: 'csv', plan: [null, { kind: 'rule', strategy: 'partial' }, null], columns };
    expectSameAtEverySplit(o2, '1,"a,b ""c"" d",x\n', '1,"a***d",x\n');
  });

  it('supports a distinct ESCAPE character and custom QUOTE, DELIMITER and NULL', () => {
    const o: Opts = { format: 'csv', plan: [null, partial, detect], columns, escape: '\\', quote: "'", delimiter: ';', null: 'N/A' };
    expectSameAtEverySplit(o, "1;'alice@example.com';'it\\'s bob@example.org; ok'\n2;N/A;'N/A'\n",
      "1;'a***@example.com';'it\\'s ***; ok'\n2;N/A;'N/A'\n");
  });

  it('throws ProtocolError when the data ends inside quotes', () => {
    expect(() => run(opts, [Buffer.from('id,email,note\n1,"open,x\n')])).toThrow(ProtocolError);
  });
});

describe('COPY binary format', () => {
  const opts: Opts = { format: 'text', plan: [null, partial, null], columns };

  it('is recognised by its signature', () => {
    expect(isBinaryCopy(Buffer.concat([BINARY_COPY_SIGNATURE, Buffer.alloc(8)]))).toBe(true);
    expect(isBinaryCopy(Buffer.from('1\ta\tb\n'))).toBe(false);
    expect(isBinaryCopy(BINARY_COPY_SIGNATURE.subarray(0, 5))).toBe(false);
  });

  it.each([0, 1, 3, 7, 10, 11])('cannot be masked (signature split at %i)', (at) => {
    const data = Buffer.concat([BINARY_COPY_SIGNATURE, Buffer.alloc(8), Buffer.from([0, 3])]);
    const m = createCopyMasker({ ...opts, ctx });
    let err: unknown;
    try {
      m.push(data.subarray(0, at));
      m.push(data.subarray(at));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HoopError);
    expect((err as HoopError).code).toBe('blocked');
  });

  it('text data that starts like the signature is still text', () => {
    expectSameAtEverySplit({ format: 'text', plan: [partial], columns: [{ typeOid: TypeOid.text }] }, 'PGCOPY\nrest of it\n', 'P***Y\nr***t\n');
  });
});

describe('COPY masker properties', () => {
  it('throws nothing but ProtocolError (or the binary refusal) on random chunks', () => {
    const alphabet = fc.constantFrom(...'ab@.,\t\n"\\N1234 '.split(''));
    fc.assert(
      fc.property(
        fc.constantFrom<'text' | 'csv'>('text', 'csv'),
        fc.array(fc.array(alphabet, { maxLength: 20 }).map((a) => a.join('')), { maxLength: 6 }),
        (format, chunks) => {
          const m = createCopyMasker({ format, plan: [detect, partial], columns: [{ typeOid: TypeOid.text }, { typeOid: 99999 }], ctx });
          try {
            for (const c of chunks) m.push(Buffer.from(c));
            m.end();
          } catch (e) {
            if (!(e instanceof ProtocolError)) throw e;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/**
 * The masker's rules written the plain way, on the whole input at once: split rows at newlines (outside csv
 * quotes), split a row into fields, decode each planned field, mask it with maskValue, encode it back and join.
 * The streaming masker must give the same bytes, counts and errors at any chunking.
 */
function reference(opts: Opts, input: Buffer): { out: string; masked: number[]; rows: number } | 'error' {
  const syn = syntaxOf(opts);
  const { csv } = syn;
  const rowsOf: Buffer[] = [];
  let start = 0;
  let inQuotes = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (csv && inQuotes) {
      if (c === syn.escape && syn.escape !== syn.quote) i++;
      else if (c === syn.quote) inQuotes = false;
    } else if (csv && c === syn.quote) inQuotes = true;
    else if (c === 0x0a) {
      rowsOf.push(input.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < input.length || inQuotes) return 'error';
  const masked = opts.plan.map(() => 0);
  let rows = 0;
  const out: Buffer[] = [];
  for (const [r, row] of rowsOf.entries()) {
    if (r === 0 && opts.header) {
      out.push(row, Buffer.from('\n'));
      continue;
    }
    rows++;
    const fields = splitFields(row, syn);
    if (fields.length !== opts.plan.length) return 'error';
    const rewritten = fields.map((field, i) => {
      const action = opts.plan[i];
      if (!action) return field;
      const column = { typeOid: opts.columns[i]!.typeOid, format: 0 as const, textLike: opts.columns[i]!.textLike };
      const d = csv ? decodeCsvField(field, syn) : { value: decodeTextField(field), quoted: false };
      if (!d.quoted && field.equals(syn.nullBytes)) return field;
      const m = maskValue(d.value, column, action, ctx);
      if (m === d.value) return field;
      masked[i]!++;
      if (m === null) return syn.nullBytes;
      if (csv) return encodeCsvField(m, syn, d.quoted);
      const t = encodeTextField(m, syn.delimiter);
      // COPY matches the NULL string before removing backslashes: `\***` is the value `***`, not NULL '***'.
      return t.equals(syn.nullBytes) && !/^[0-9A-Za-z]/.test(t.toString('latin1')) ? Buffer.concat([Buffer.from('\\'), t]) : t;
    });
    out.push(Buffer.concat(rewritten.flatMap((f, i) => (i === 0 ? [f] : [Buffer.from([syn.delimiter]), f]))), Buffer.from('\n'));
  }
  return { out: Buffer.concat(out).toString('latin1'), masked, rows };
}

/** Fields of a row without its newline: a backslash escapes the next byte (text); quotes hide delimiters (csv). */
function splitFields(row: Buffer, syn: CopySyntax): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  let inQuotes = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i];
    if (!syn.csv && c === 0x5c) i++;
    else if (syn.csv && inQuotes) {
      if (c === syn.escape && syn.escape !== syn.quote) i++;
      else if (c === syn.quote) inQuotes = false;
    } else if (syn.csv && c === syn.quote) inQuotes = true;
    else if (c === syn.delimiter) {
      out.push(row.subarray(start, i));
      start = i + 1;
    }
  }
  out.push(row.subarray(start));
  return out;
}

/** A CopyData message holding `payload`. */
function copyData(payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = 0x64;
  header.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

/** The payloads of the CopyData messages in `buf`. */
function payloadsOf(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    expect(buf[at]).toBe(0x64);
    const end = at + 1 + buf.readInt32BE(at + 1);
    out.push(buf.subarray(at + 5, end));
    at = end;
  }
  return out;
}

/**
 * Runs the streaming masker over `chunks`: through push, or as CopyData messages through pushMessages (in two
 * runs), where every message out must hold whole rows and come from a message in.
 */
function stream(opts: Opts, chunks: Buffer[], messages: boolean): { out: string; masked: number[]; rows: number } | 'error' {
  const m = createCopyMasker({ ...opts, ctx });
  try {
    let out: string;
    if (messages) {
      const wire = chunks.map(copyData);
      const half = Math.floor(wire.length / 2);
      const sent = [m.pushMessages(Buffer.concat(wire.slice(0, half))), m.pushMessages(Buffer.concat(wire.slice(half)))].flatMap(payloadsOf);
      expect(sent.length).toBeLessThanOrEqual(chunks.length);
      for (const p of sent) expect(p.length > 0 && p[p.length - 1] === 0x0a).toBe(true);
      out = Buffer.concat([...sent, m.end()]).toString('latin1');
    } else {
      out = Buffer.concat([...chunks.map((c) => m.push(c)), m.end()]).toString('latin1');
    }
    return { out, masked: [...m.masked], rows: m.rows };
  } catch (e) {
    if (e instanceof ProtocolError) return 'error';
    throw e;
  }
}

/** Cuts `data` after every newline. */
function lines(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let last = 0;
  for (let nl = data.indexOf(0x0a); nl >= 0; nl = data.indexOf(0x0a, nl + 1)) {
    out.push(data.subarray(last, nl + 1));
    last = nl + 1;
  }
  if (last < data.length) out.push(data.subarray(last));
  return out;
}

/** Cuts `data` at the given fractions of its length. */
function cut(data: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((f) => Math.floor(f * data.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(data.subarray(last, p));
    last = p;
  }
  out.push(data.subarray(last));
  return out;
}

describe('COPY masker against the plain reading', () => {
  const strategies: (MaskAction | null)[] = [
    null, partial, { kind: 'rule', strategy: 'redact' }, { kind: 'rule', strategy: 'hash' }, { kind: 'rule', strategy: 'null' }, detect,
  ];
  const value = fc.oneof(
    fc.constantFrom('alice@example.com', '4242 4242 4242 4242', '+1 415-555-0100', 'Zoë Ünïcode', '😀abc😀', '', 'x', '***', 'N/A', '\\.', 'a\tb', 'say "hi"', 'a,b;c|d', 'line1\nline2\r',
      // partial takes the generic shape of these on their bytes (isGenericAscii), and keeps the shape of the IBANs.
      'c4ca4238a0b923820dcc509a6f75849b', '  padded value ', 'a***b', ' *** ', 'ab', 'DE89 3704 0044 0532 0130 00', 'gb82west12345698765432'),
    fc.array(fc.constantFrom(...'ab@.,;|\t\n\r"\'\\ é😀1'.split('')), { maxLength: 12 }).map((a) => a.join('')),
  );
  const syntax = fc.record({
    format: fc.constantFrom<'text' | 'csv'>('text', 'csv'),
    delimiter: fc.constantFrom(undefined, '|', ';'),
    null: fc.constantFrom(undefined, 'N/A', '***', ''),
    quote: fc.constantFrom(undefined, "'"),
    escape: fc.constantFrom(undefined, '\\'),
    header: fc.boolean(),
  });

  it('gives the same bytes, counts and errors as the reference, however the data is chunked', () => {
    fc.assert(
      fc.property(
        syntax,
        // At least one planned column: with none, the masker stops reading rows once past the header.
        fc.array(fc.constantFrom(...strategies), { minLength: 1, maxLength: 4 }).filter((p) => p.some((a) => a !== null)),
        fc.constantFrom(TypeOid.text, TypeOid.int4, TypeOid.json, 99999),
        fc.array(fc.array(fc.option(value, { nil: null }), { minLength: 1, maxLength: 5 }), { maxLength: 6 }),
        fc.oneof(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), fc.constant('lines' as const)),
        fc.boolean(),
        (syn, plan, typeOid, table, cuts, messages) => {
          const csv = syn.format === 'csv';
          const opts: Opts = {
            format: syn.format, plan, columns: plan.map((_, i) => ({ typeOid: i === 0 ? typeOid : TypeOid.text })), header: syn.header,
            ...(syn.delimiter === undefined ? {} : { delimiter: syn.delimiter }),
            ...(syn.null === undefined || (!csv && syn.null === '') ? {} : { null: syn.null }),
            ...(csv && syn.quote !== undefined ? { quote: syn.quote } : {}),
            ...(csv && syn.escape !== undefined ? { escape: syn.escape } : {}),
          };
          const data = encodeTable(opts, table);
          const expected = reference(opts, data);
          // 'lines': a message per line, as PostgreSQL sends a COPY (a row per message; a csv value may span lines).
          expect(stream(opts, cuts === 'lines' ? lines(data) : cut(data, cuts), messages)).toEqual(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('agrees with the reference on raw bytes too (unescaped, unbalanced, wrong field counts)', () => {
    const raw = fc.array(fc.constantFrom(...'ab@.,|\t\n\n"\\N1 é'.split('')), { maxLength: 60 }).map((a) => Buffer.from(a.join('')));
    fc.assert(
      fc.property(
        fc.constantFrom<'text' | 'csv'>('text', 'csv'),
        fc.boolean(),
        raw,
        fc.oneof(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }), fc.constant('lines' as const)),
        fc.boolean(),
        (format, header, data, cuts, messages) => {
          const opts: Opts = { format, plan: [partial, null, detect], columns: [{ typeOid: TypeOid.text }, { typeOid: TypeOid.text }, { typeOid: TypeOid.text }], header };
          expect(stream(opts, cuts === 'lines' ? lines(data) : cut(data, cuts), messages)).toEqual(reference(opts, data));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('masks partial on the bytes only where csv needs no quotes for it, as the string path decides', () => {
    const text = { typeOid: TypeOid.text };
    const cases: [Opts, string][] = [
      // Kept first or last bytes that are the escape character: quoted, as encodeCsvField quotes them.
      [{ format: 'csv', escape: '\\', plan: [partial], columns: [text] }, 'abcd\\\n\\bcde\nabcde\nab\\\n'],
      // `*` as the delimiter or the quote: every mask must be quoted (or its stars doubled).
      [{ format: 'csv', delimiter: '*', plan: [partial, null], columns: [text, text] }, 'abcdef*x\nab*y\n'],
      [{ format: 'csv', quote: '*', plan: [partial], columns: [text] }, 'abcdef\nab\n'],
      // A NULL string with a star: a mask that reads as it is quoted.
      [{ format: 'csv', null: '***', plan: [partial], columns: [text] }, 'abc\nabcdef\n'],
      // Spaces kept around the mask, and a space delimiter.
      [{ format: 'csv', plan: [partial], columns: [text] }, '  abcdef \n'],
      [{ format: 'csv', delimiter: ' ', plan: [partial, null], columns: [text, text] }, 'abcdef x\n'],
      [{ format: 'csv', escape: ' ', plan: [partial], columns: [text] }, '  abcdef\n'],
    ];
    for (const [o, data] of cases) {
      const raw = Buffer.from(data);
      const expected = reference(o, raw);
      expect(expected).not.toBe('error');
      for (const messages of [false, true]) expect(stream(o, lines(raw), messages)).toEqual(expected);
    }
  });

  it('keeps a masked value that reads as the NULL string a value: quoted in csv, after a backslash in text', () => {
    const redact: MaskAction = { kind: 'rule', strategy: 'redact' };
    const cols = [{ typeOid: TypeOid.text }, { typeOid: TypeOid.text }];
    expectSameAtEverySplit({ format: 'csv', plan: [null, redact], columns: cols, null: '***' }, '1,secret\n2,***\n', '1,"***"\n2,***\n');
    expectSameAtEverySplit({ format: 'text', plan: [null, redact], columns: cols, null: '***' }, '1\tsecret\n', '1\t\\***\n');
  });

  it('escapes a masked text value only where COPY would, and decodes escaped fields before masking', () => {
    const hash: MaskAction = { kind: 'rule', strategy: 'hash' };
    const cols = [{ typeOid: TypeOid.text }];
    const h = (s: string): string => maskValue(Buffer.from(s), { typeOid: TypeOid.text, format: 0 }, hash, ctx)?.toString() ?? '';
    expectSameAtEverySplit({ format: 'text', plan: [hash], columns: cols }, 'a\\tb\nplain\n', `${h('a\tb')}\n${h('plain')}\n`);
    const slash: MaskAction = { kind: 'rule', strategy: 'partial' };
    expectSameAtEverySplit({ format: 'text', plan: [slash], columns: cols }, '\\\\abcd\\t\n', '\\\\***d\\t\n');
  });
});

/** COPY's syntax for `opts`, as the masker reads it (the tests' own reading, for the reference and the encoder). */
function syntaxOf(opts: Opts): CopySyntax {
  const csv = opts.format === 'csv';
  const byte = (s: string): number => Buffer.from(s)[0] as number;
  const quote = byte(opts.quote ?? '"');
  return {
    csv, delimiter: byte(opts.delimiter ?? (csv ? ',' : '\t')), quote, escape: opts.escape === undefined ? quote : byte(opts.escape),
    nullBytes: Buffer.from(opts.null ?? (csv ? '' : '\\N')),
  };
}

/** COPY output for `table` as PostgreSQL writes it: fields encoded, NULL as the null string, csv fields quoted at random. */
function encodeTable(opts: Opts, table: (string | null)[][]): Buffer {
  const syn = syntaxOf(opts);
  const { csv } = syn;
  const n = opts.plan.length;
  const lines: Buffer[] = [];
  if (opts.header) lines.push(Buffer.from(`${Array.from({ length: n }, (_, i) => `c${i}`).join(String.fromCharCode(syn.delimiter))}\n`));
  for (const [r, row] of table.entries()) {
    const fields = Array.from({ length: n }, (_, i) => {
      const v = row[i % row.length];
      if (v === null || v === undefined) return syn.nullBytes;
      const b = Buffer.from(v);
      return csv ? encodeCsvField(b, syn, (r + i) % 3 === 0) : encodeTextField(b, syn.delimiter);
    });
    lines.push(Buffer.concat(fields.flatMap((f, i) => (i === 0 ? [f] : [Buffer.from([syn.delimiter]), f]))), Buffer.from('\n'));
  }
  return Buffer.concat(lines);
}

describe('ByteWriter', () => {
  it('grows, copies short and long runs, writes UTF-8, truncates, and starts over after take', () => {
    const w = new ByteWriter(4);
    const long = Buffer.from('x'.repeat(100));
    w.copy(Buffer.from('abc'), 1, 3);
    w.byte(0x2d);
    w.copy(long, 0, 100);
    expect(w.utf8('é😀')).toBe(6);
    expect(w.length).toBe(3 + 100 + 6);
    w.truncate(3);
    w.utf8('z');
    expect(w.utf8('abé')).toBe(4); // ASCII, then not: written again by Buffer.write
    expect(w.utf8('q'.repeat(70))).toBe(70);
    expect(w.take().toString()).toBe(`bc-zabé${'q'.repeat(70)}`);
    expect(w.length).toBe(0);
    w.copy(long, 0, 50);
    expect(w.take().toString()).toBe('x'.repeat(50));
  });

  it('over its input: rewrites in place while the output fits below the unread part, then moves to its own buffer', () => {
    const input = Buffer.from(`keep|${'s'.repeat(20)}|tail-${'t'.repeat(30)}|x|end`);
    const w = ByteWriter.over(input);
    w.copy(input, 0, 5); // "keep|" stays where it is
    w.until(25); // the 20-byte value is read
    w.utf8('***');
    w.copy(input, 25, 62); // "|tail-ttt…|" moves down over the freed bytes
    expect(w.inPlace).toBe(true);
    w.until(63); // "x" is read; the 5 bytes it grows to fit in the room freed before it
    w.utf8('XXXXX');
    w.copy(input, 63, 67);
    const out = w.take();
    expect(out.toString()).toBe(`keep|***|tail-${'t'.repeat(30)}|XXXXX|end`);
    expect(out.buffer).toBe(input.buffer); // no second buffer
    expect(out.byteOffset).toBe(input.byteOffset);

    const small = Buffer.from('ab|cd');
    const v = ByteWriter.over(small);
    v.until(2); // "ab" is read; what replaces it does not fit in place
    v.utf8('a much longer value');
    expect(v.inPlace).toBe(false);
    v.copy(small, 2, 5);
    expect(v.take().toString()).toBe('a much longer value|cd');
    expect(small.toString()).toBe('ab|cd'); // the unread bytes were never overwritten

    const bad = ByteWriter.over(Buffer.from('abcdef'));
    bad.until(4);
    bad.utf8('zzzz');
    expect(() => bad.copy(bad.buffer, 2, 6)).toThrow(RangeError); // its bytes 2-3 were overwritten
  });
});

describe('COPY masker on CopyData messages', () => {
  const opts: Opts = { format: 'text', plan: [null, partial, detect], columns };

  it('keeps a message per row and reads each in place, whatever bytes the headers hold', () => {
    // Payload lengths whose length words end in 0x09 (tab), 0x0a (newline) and 0x5c (backslash).
    const rows = ['1\talice@example.com\tx\n', 'a\tb\t\n', '2\ta\tb\n', `3\tbob@example.org\t${'y'.repeat(69)}\n`];
    expect(rows.map((r) => (Buffer.byteLength(r) + 4) & 0xff)).toEqual([0x1a, 0x09, 0x0a, 0x5c]);
    const m = createCopyMasker({ ...opts, ctx });
    const out = m.pushMessages(Buffer.concat(rows.map((r) => copyData(Buffer.from(r)))));
    expect(payloadsOf(out).map((p) => p.toString())).toEqual(['1\ta***@example.com\tx\n', 'a\t***\t\n', '2\t***\tb\n', `3\tb***@example.org\t${'y'.repeat(69)}\n`]);
    expect(m.rows).toBe(4);
  });

  it('refuses what is not a run of whole CopyData messages', () => {
    const good = copyData(Buffer.from('1\ta\tb\n'));
    expect(() => createCopyMasker({ ...opts, ctx }).pushMessages(good.subarray(0, good.length - 1))).toThrow(ProtocolError);
    expect(() => createCopyMasker({ ...opts, ctx }).pushMessages(Buffer.concat([good, Buffer.from('d\0\0')]))).toThrow(ProtocolError);
    const other = Buffer.from(good);
    other[0] = 0x44;
    expect(() => createCopyMasker({ ...opts, ctx }).pushMessages(other)).toThrow(ProtocolError);
  });

  it('does not reuse what it found in a buffer that a caller refilled', () => {
    const m = createCopyMasker({ format: 'text', plan: [partial, null], columns: [{ typeOid: TypeOid.text }, { typeOid: TypeOid.text }], ctx });
    const reused = Buffer.from('abc\tdefgh\n');
    expect(m.push(reused).toString()).toBe('***\tdefgh\n');
    reused.write('abcdef\tgh\n'); // the delimiter now where the first push found none
    expect(m.push(reused).toString()).toBe('a***f\tgh\n');
  });
});
