/**
 * Waits after a write that returned false: until the stream can take more, or is gone. A closed or failed stream
 * never drains, and waiting for 'drain' alone would hold the writer (and what it reads from) for good.
 */
export function drainedOrClosed(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
