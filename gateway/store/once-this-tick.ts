/**
 * Group commit's trigger: returns a function that, however often it is called within one tick, runs `fn` once,
 * as a microtask at the end of that tick. Writes queued together (a statement's record and the previous
 * statement's result) then leave in one batch instead of the first one starting a batch of its own.
 */
export function onceThisTick(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      fn();
    });
  };
}
