import { z } from "zod";
import { createMemoryStore } from "../../../src/adapters/memory/index.js";
import {
  committed,
  createRecoveryWorker,
  createRunner,
  defineSaga,
  MemorySagaLog,
  notCommitted,
  type RecoveryWorkerEvent,
  type RecoveryWorkerOptions,
  type SagaChange,
} from "../../../src/index.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";
import { intent, leaveCrashed } from "../../observability/support/crash.js";

/**
 * A memory log whose claims and writes can be made to fail: `failClaims` claims in a row throw, and a
 * write that would complete a saga in `failCompletion` throws, leaving its lease held.
 */
export class FlakyLog extends MemorySagaLog {
  failClaims = 0;
  claimCalls = 0;
  readonly failCompletion = new Set<string>();

  override async claimRecoverable(
    ...args: Parameters<MemorySagaLog["claimRecoverable"]>
  ): ReturnType<MemorySagaLog["claimRecoverable"]> {
    this.claimCalls++;
    if (this.failClaims > 0) {
      this.failClaims--;
      throw new Error("the log's disk is full");
    }
    return super.claimRecoverable(...args);
  }

  override async write(sagaId: string, token: number, change: SagaChange): Promise<void> {
    if (this.failCompletion.has(sagaId) && change.status === "completed") {
      throw new Error("the log's disk is full");
    }
    return super.write(sagaId, token, change);
  }
}

/**
 * One retriable, probed step that writes a label: a saga left crashed before it is completed by
 * recovery. `gate`, when set, is awaited before each execute, so a test can hold a pass in flight.
 */
export function workerWorld(options: { virtual?: boolean } = {}) {
  const virtual = options.virtual ?? true;
  // Unused by a world on real time, where the runner keeps the system clock.
  const clock = new VirtualClock();
  const now = () => (virtual ? clock.now() : Date.now());
  const log = new FlakyLog();
  const store = createMemoryStore({ id: "memory:labels", tier: "plain" });
  const hooks: { gate: (() => Promise<void>) | undefined } = { gate: undefined };
  const saga = defineSaga("ship", { input: z.object({ id: z.string() }) })
    .step("label", {
      store,
      kind: "retriable",
      output: z.object({ id: z.string() }),
      execute: async ({ input, handle }) => {
        await hooks.gate?.();
        await handle.put(`label:${input.id}`, { id: input.id });
        return { id: input.id };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`label:${input.id}`)) === undefined
          ? notCommitted()
          : committed({ id: input.id }),
    })
    .build();
  const runner = createRunner({
    log,
    owner: "worker-1",
    random: () => 0.5,
    ...(virtual ? { clock } : {}),
  });
  /** Leaves saga `id` as a runner that died after logging its step's intent would have. */
  const crash = (id: string) =>
    leaveCrashed(log, saga, `saga-${id}`, { id }, [intent("label", 1, now() - 119_000)], {
      at: now() - 120_000,
    });
  const events: RecoveryWorkerEvent[] = [];
  const waiters: { test: (e: RecoveryWorkerEvent) => boolean; resolve: () => void }[] = [];
  /** The worker's `onEvent`: records every event and wakes whoever waits for one like it. */
  const onEvent = (event: RecoveryWorkerEvent) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (waiter.test(event)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  /** Resolves at the next event that satisfies `test`. */
  const next = (test: (e: RecoveryWorkerEvent) => boolean) =>
    new Promise<void>((resolve) => waiters.push({ test, resolve }));
  const passes = () => events.filter((e) => e.type === "recovery.pass");
  /** Starts a worker on this world: its saga, its runner, `onEvent` recording, no jitter. */
  const start = (extra: Partial<RecoveryWorkerOptions> = {}) =>
    createRecoveryWorker({ runner, sagas: [saga], jitter: 0, onEvent, ...extra });
  return { clock, log, store, saga, runner, crash, events, onEvent, next, passes, hooks, start };
}
