import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * hold (compensatable) → charge (pivot) → notify (retriable, no probe), each writing its own key of
 * one memory store. `notify` runs `notifyEffect` in place of its write when one is given.
 */
function checkout(options: { notifyEffect?: () => Promise<void>; chargeRefused?: boolean } = {}) {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const store = createMemoryStore({ id: "shop", tier: "plain" });
  const seen = { notifyCalls: 0, statusWhileUndoing: [] as string[] };
  const saga = defineSaga("checkout", { input: z.object({}) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({}),
      execute: async ({ handle }) => {
        await handle.put("hold", 1);
        return {};
      },
      probe: async ({ handle }) =>
        (await handle.get("hold")) === undefined ? notCommitted() : committed({}),
      compensate: async ({ handle }) => {
        const [record] = await log.list();
        seen.statusWhileUndoing.push(String(record?.status));
        await handle.delete("hold");
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({}),
      execute: async ({ handle }) => {
        if (options.chargeRefused) throw new StoreError("not_committed", "the card was declined");
        await handle.put("charge", 1);
        return {};
      },
      probe: async ({ handle }) =>
        (await handle.get("charge")) === undefined ? notCommitted() : committed({}),
    })
    .step("notify", {
      store,
      kind: "retriable",
      output: z.object({}),
      timeoutMs: 100,
      retry: { attempts: 3, initialDelayMs: 10, jitter: 0 },
      execute: async ({ handle }) => {
        seen.notifyCalls++;
        if (options.notifyEffect !== undefined) await options.notifyEffect();
        else await handle.put("notify", 1);
        return {};
      },
    })
    .build();
  return { clock, log, store, saga, seen };
}

const keys = (store: ReturnType<typeof createMemoryStore>) => Object.keys(store.snapshot()).sort();

describe("a saga cancelled after its point of no return", () => {
  it("is not compensated: it stays running for the recoverer, which finishes it", async () => {
    const { clock, log, store, saga, seen } = checkout();
    const controller = new AbortController();
    const runner = createRunner({
      clock,
      log,
      onEvent: (event) => {
        if (event.type === "step.committed" && event.step === "charge") {
          controller.abort(new Error("the client went away"));
        }
      },
    });
    const result = await clock.run(runner.run(saga, {}, { signal: controller.signal }));
    const error = result._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.Incomplete);
    if (error.code !== ErrorCode.Incomplete) return;
    expect(error.step).toBe("notify");
    expect(error.report.status).toBe(SagaStatus.Running);
    expect(keys(store), "the hold and the charge stay: the charge cannot be undone").toEqual([
      "charge",
      "hold",
    ]);
    expect(seen.notifyCalls).toBe(0);
    expect(seen.statusWhileUndoing, "nothing may be compensated past the pivot").toEqual([]);

    const recoverer = createRecoverer({ runner: createRunner({ clock, log }), sagas: [saga] });
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(pass.sagas.map((s) => s.outcome)).toEqual(["completed"]);
    expect(keys(store)).toEqual(["charge", "hold", "notify"]);
  });
});

describe("a compensation", () => {
  it("starts only once the log records the saga as compensating, which recovery reads to keep undoing", async () => {
    const { clock, log, store, saga, seen } = checkout({ chargeRefused: true });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(seen.statusWhileUndoing).toEqual([SagaStatus.Compensating]);
    expect(keys(store)).toEqual([]);
    const [record] = await log.list();
    expect(record?.status).toBe(SagaStatus.Compensated);
  });
});

describe("a retriable step without a probe whose attempts all go unanswered", () => {
  it("is in doubt after its last attempt: executed exactly `attempts` times, never reported as failed", async () => {
    const { clock, log, store, saga, seen } = checkout({
      notifyEffect: () => new Promise<never>(() => {}),
    });
    const runner = createRunner({ clock, log });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code, error.message).toBe(ErrorCode.InDoubt);
    if (error.code !== ErrorCode.InDoubt) return;
    expect(error.step).toBe("notify");
    expect(seen.notifyCalls, "one execute per attempt of its policy, no more").toBe(3);
    expect(error.report.status).toBe(SagaStatus.InDoubt);
    const [record] = await log.list();
    expect(record?.status).toBe(SagaStatus.InDoubt);
    expect(keys(store)).toEqual(["charge", "hold"]);
  });
});
