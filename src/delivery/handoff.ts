// The hand-off between a stream's producer (a loop that reads the logs) and its consumer (graphql-ws
// reading the subscription): one value at a time, with back-pressure. It does what the stream used
// a Repeater for, without the per-value promise chains that made Repeater's push the costliest step
// of a group delivery in the profile (BENCHMARKS.md).

/** Hands `value` to the consumer; resolves once the consumer asks for the next one, or has left. */
export type Push<T> = (value: T) => Promise<void>;

/**
 * An async iterator fed by `produce`, which starts at once (so its clean-up runs even if the
 * consumer leaves before asking for anything). `stopped` resolves when the consumer leaves
 * (`return()`); when `produce` ends, the consumer is done, and when it throws, the consumer's next
 * `next()` rejects with the error.
 */
export function handoff<T>(
  produce: (push: Push<T>, stopped: Promise<void>) => Promise<void>,
): AsyncIterableIterator<T> {
  let finished = false;
  let failure: { error: unknown } | undefined;
  /** A value waiting for the consumer, and its producer's resolver. */
  let offered: { value: T; taken: () => void } | undefined;
  /** The consumer waiting for a value. */
  let waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  /** The producer of the value last taken, released when the consumer asks again. */
  let lastTaken: (() => void) | undefined;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });

  const settleWaiting = () => {
    if (!waiting) return;
    const consumer = waiting;
    waiting = undefined;
    if (failure) consumer.reject(failure.error);
    else consumer.resolve({ done: true, value: undefined });
  };

  const push: Push<T> = (value) => {
    if (finished) return Promise.resolve();
    return new Promise<void>((taken) => {
      if (waiting) {
        const consumer = waiting;
        waiting = undefined;
        lastTaken = taken;
        consumer.resolve({ done: false, value });
      } else offered = { value, taken };
    });
  };

  const leave = () => {
    finished = true;
    stop();
    offered?.taken();
    offered = undefined;
    lastTaken?.();
    lastTaken = undefined;
    settleWaiting();
  };

  produce(push, stopped).then(leave, (error: unknown) => {
    if (!finished) failure = { error };
    leave();
  });

  return {
    next() {
      lastTaken?.();
      lastTaken = undefined;
      if (offered) {
        const { value, taken } = offered;
        offered = undefined;
        lastTaken = taken;
        return Promise.resolve({ done: false, value });
      }
      if (finished) {
        if (!failure) return Promise.resolve({ done: true, value: undefined });
        const { error } = failure;
        failure = undefined;
        return Promise.reject(error);
      }
      return new Promise<IteratorResult<T>>((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    return() {
      leave();
      return Promise.resolve({ done: true, value: undefined });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
