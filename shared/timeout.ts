/** What {@link withTimeout} rejects with when the wait ran out (the promise it raced may still settle later). */
export class TimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`}`);
    this.name = 'TimeoutError';
  }
}

/** `p`, or a {@link TimeoutError} once `ms` have passed (the timer does not hold the process open). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
