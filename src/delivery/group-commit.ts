// Group commit: writes that arrive while one batch is being stored go together in the next, so under
// load a batch costs about what one write does. At most one batch per queue is in flight.

const MAX_BATCH = 100;

interface Pending<I, O> {
  input: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

/**
 * One queue per `owner` (a server's services) over `storeBatch`, which returns one output per input,
 * in order. When a batch fails (one bad input, such as a clientMessageId raced by a retry), its
 * inputs are stored one by one, so only the bad one fails.
 */
export function groupCommit<Owner extends object, I, O>(
  storeBatch: (owner: Owner, inputs: I[]) => Promise<O[]>,
): (owner: Owner, input: I) => Promise<O> {
  const queues = new WeakMap<Owner, (input: I) => Promise<O>>();
  return (owner, input) => {
    let queue = queues.get(owner);
    if (!queue) {
      queue = queueOver((inputs) => storeBatch(owner, inputs));
      queues.set(owner, queue);
    }
    return queue(input);
  };
}

function queueOver<I, O>(storeBatch: (inputs: I[]) => Promise<O[]>): (input: I) => Promise<O> {
  const pending: Pending<I, O>[] = [];
  let running = false;
  const drain = async () => {
    running = true;
    try {
      while (pending.length > 0) {
        const batch = pending.splice(0, MAX_BATCH);
        try {
          const stored = await storeBatch(batch.map((item) => item.input));
          for (const [i, item] of batch.entries()) item.resolve(stored[i]!);
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          for (const item of batch) {
            await storeBatch([item.input]).then(([output]) => item.resolve(output!), item.reject);
          }
        }
      }
    } finally {
      running = false;
    }
  };
  return (input) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ input, resolve, reject });
      if (!running) void drain();
    });
}
