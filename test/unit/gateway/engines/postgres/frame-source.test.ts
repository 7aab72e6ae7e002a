import { PassThrough } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FrameSource } from '../../../../../gateway/engines/postgres/frame-source.js';
import { createFramer } from '../../../../../gateway/engines/postgres/protocol/framer.js';
import { DEFAULT_MAX_FRAME, MAX_STARTUP_LENGTH } from '../../../../../gateway/engines/postgres/protocol/constants.js';

/** A tagged message: type byte, Int32 length, body. */
function msg(tag: string, body: Buffer | string = ''): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head.write(tag, 0, 'latin1');
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

function tagged(stream: PassThrough): FrameSource {
  return new FrameSource(stream, createFramer({ startup: false, maxLength: DEFAULT_MAX_FRAME }));
}

describe('FrameSource', () => {
  it('hands out the whole frames of a read as one batch, and waits for the rest of a split frame', async () => {
    const stream = new PassThrough();
    const src = tagged(stream);
    const q = msg('Q', 'select 1\0');
    stream.write(Buffer.concat([msg('S'), q.subarray(0, 3)]));
    const first = await src.nextBatch();
    expect(first?.map((f) => String.fromCharCode(f.tag!))).toEqual(['S']);
    const pending = src.nextBatch();
    stream.write(q.subarray(3));
    const second = await pending;
    expect(second?.map((f) => f.raw)).toEqual([q]);
    expect(src.bytes).toBe(5 + q.length);
  });

  it('resolves null at the end of the stream, also for a read that was already waiting', async () => {
    const stream = new PassThrough();
    const src = tagged(stream);
    const waiting = src.nextBatch();
    stream.end();
    expect(await waiting).toBeNull();
    expect(await src.nextBatch()).toBeNull();
  });

  it('resolves null for a stream that ended and closed while nobody was reading', async () => {
    const stream = new PassThrough();
    const src = tagged(stream);
    stream.write(msg('S'));
    stream.end();
    expect((await src.nextBatch())?.length).toBe(1);
    await new Promise((r) => stream.once('close', r));
    expect(await src.nextBatch()).toBeNull();
  });

  it('rejects with the stream error once, then reads as ended (as the stream iterator did)', async () => {
    const stream = new PassThrough();
    const src = tagged(stream);
    const waiting = src.nextBatch();
    stream.destroy(new Error('connection reset'));
    await expect(waiting).rejects.toThrow('connection reset');
    expect(await src.nextBatch()).toBeNull();
  });

  it('rejects as the stream iterator did when the stream closes before its end', async () => {
    const stream = new PassThrough();
    const src = tagged(stream);
    const waiting = src.nextBatch();
    stream.destroy();
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('rejects with the framer\'s protocol error', async () => {
    const stream = new PassThrough();
    const src = new FrameSource(stream, createFramer({ startup: false, maxLength: 100 }));
    stream.write(msg('Q', Buffer.alloc(200)));
    await expect(src.nextBatch()).rejects.toThrow(/above the limit 100/);
  });

  it('reads only when asked, so a client that sends faster than the session reads is held back', async () => {
    const stream = new PassThrough({ highWaterMark: 64 });
    const src = tagged(stream);
    let accepted = 0;
    for (let i = 0; i < 20 && stream.write(msg('Q', 'select 1\0')); i++) accepted++;
    expect(accepted).toBeLessThan(20); // the writable side filled up: nobody reads
    const batch = await src.nextBatch();
    expect(batch?.length).toBeGreaterThan(0);
  });

  it('one frame at a time in the startup phase, then tagged frames behind the startup packet', async () => {
    const stream = new PassThrough();
    const src = new FrameSource(stream, createFramer({ startup: true, maxLength: MAX_STARTUP_LENGTH }));
    const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    const params = Buffer.from('user\0u\0\0');
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(0x30000, 4);
    params.copy(startup, 8);
    stream.write(Buffer.concat([ssl, startup, msg('Q', 'x\0')]));
    expect((await src.next())?.raw).toEqual(ssl);
    expect((await src.next())?.raw).toEqual(startup);
    src.leaveStartup();
    expect((await src.nextBatch())?.map((f) => f.raw)).toEqual([msg('Q', 'x\0')]);
  });

  it('keeps nothing of a batch once it has been handed out', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const stream = new PassThrough();
    const src = tagged(stream);
    const ref = ((): WeakRef<ArrayBufferLike> => {
      const chunk = Buffer.concat([msg('Q', 'select 1\0'), msg('d', Buffer.alloc(64 * 1024))]);
      stream.write(chunk);
      return new WeakRef(chunk.buffer);
    })();
    // Consumed in a call of its own: this test's frame must not be what keeps the batch alive.
    const consume = async (): Promise<number> => (await src.nextBatch())?.length ?? 0;
    expect(await consume()).toBe(2);
    const waiting = src.nextBatch(); // the session now idles here
    await new Promise((r) => setImmediate(r));
    gc();
    expect(ref.deref()).toBeUndefined();
    stream.end();
    expect(await waiting).toBeNull();
  });
});
