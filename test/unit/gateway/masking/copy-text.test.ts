import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HoopError, ProtocolError } from '../../../../shared/errors.js';
import { BINARY_COPY_SIGNATURE, createCopyMasker, isBinaryCopy, TypeOid } from '../../../../gateway/masking/index.js';
import type { CopyMaskOptions, MaskAction } from '../../../../gateway/masking/index.js';
import { decodeTextField, encodeTextField } from '../../../../gateway/masking/copy-fields.js';

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

/** Whole, split at every offset, split in three at every pair of offsets (coarse), and byte by byte. */
function expectSameAtEverySplit(opts: Opts, input: string, expected: string): void {
  const data = Buffer.from(input, 'utf8');
  expect(run(opts, [data]).toString('utf8')).toBe(expected);
  for (let i = 0; i <= data.length; i++) {
    expect(run(opts, [data.subarray(0, i), data.subarray(i)]).toString('utf8'), `split at ${i}`).toBe(expected);
  }
  for (let i = 0; i <= data.length; i += 3) {
    for (let j = i; j <= data.length; j += 5) {
      expect(run(opts, [data.subarray(0, i), data.subarray(i, j), data.subarray(j)]).toString('utf8')).toBe(expected);
    }
  }
  const bytes = [...data].map((b) => Buffer.from([b]));
  expect(run(opts, bytes).toString('utf8')).toBe(expected);
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
