// LangGraph wraps a graph's store, for each run, in an AsyncBatchedStore whose batching loop (JS
// @langchain/langgraph-checkpoint 1.2.x) is `while (running) await setTimeout(0)`: every run in flight
// fires a timer each millisecond for as long as it runs, store calls or not. A run waiting a second on
// its model costs ~1,000 timer turns; 10,000 such runs keep the event loop busy with nothing but timers,
// so every run advances in lockstep and none finishes (issue 16, item 5). Python's copy had the same loop
// and replaced it with a queue (langchain-ai/langgraph#3445).
//
// quietBatchedStores() gives the class the same batching without the spin: an operation enqueued while
// the store runs schedules one flush a timer turn later (so calls made in the same turn still go as one
// batch), and nothing is scheduled while the queue is empty. start/stop keep their meaning: operations
// wait while the store is stopped and go at the next start; stop waits for the flush in progress.
import { AsyncBatchedStore } from "@langchain/langgraph-checkpoint";

type Op = Parameters<AsyncBatchedStore["store"]["batch"]>[0][number];
interface Entry {
  operation: Op;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}
interface Quiet {
  queue: Map<number, Entry>;
  nextKey: number;
  running: boolean;
  processingTask: Promise<void> | null;
  store: AsyncBatchedStore["store"];
  /** A flush is scheduled or running. */
  wpScheduled?: boolean;
}

const MARK = Symbol.for("waypoint.quietBatchedStore");

function schedule(self: Quiet): void {
  if (self.wpScheduled || !self.running || self.queue.size === 0) return;
  self.wpScheduled = true;
  self.processingTask = new Promise<void>((done) => setTimeout(done, 0)).then(() => flush(self));
}

async function flush(self: Quiet): Promise<void> {
  // One batch per turn, of what was queued, as the original loop did (also when stop() came meanwhile).
  const batch = [...self.queue.values()];
  self.queue.clear();
  try {
    const results = await self.store.batch(batch.map((e) => e.operation));
    batch.forEach((e, i) => e.resolve(results[i]));
  } catch (e) {
    for (const entry of batch) entry.reject(e);
  } finally {
    self.wpScheduled = false;
    self.processingTask = null;
    schedule(self);
  }
}

/** Replace AsyncBatchedStore's spinning loop with a scheduled flush (idempotent). */
export function quietBatchedStores(): void {
  const proto = AsyncBatchedStore.prototype as unknown as Record<string | symbol, unknown>;
  if (proto[MARK]) return;
  proto[MARK] = true;
  proto.start = function start(this: Quiet) {
    if (this.running) return;
    this.running = true;
    schedule(this);
  };
  proto.stop = async function stop(this: Quiet) {
    this.running = false;
    if (this.processingTask) await this.processingTask;
  };
  proto.enqueueOperation = function enqueueOperation(this: Quiet, operation: Op) {
    return new Promise((resolve, reject) => {
      this.queue.set(this.nextKey++, { operation, resolve, reject });
      schedule(this);
    });
  };
}
