import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, memoryPut } from "../../src/adapters/memory/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  runAtomic,
} from "../../src/index.js";

function saga() {
  const store = createMemoryStore({ id: "orders", tier: "plain" });
  const built = defineSaga("order", {
    input: z.object({ orderId: z.string(), amount: z.number().int().positive(), note: z.string() }),
  })
    .step("place", {
      store,
      kind: "pivot",
      output: z.object({ ok: z.boolean() }),
      execute: async ({ input, handle }) => {
        await handle.put(`order:${input.orderId}`, input);
        return { ok: true };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`order:${input.orderId}`)) === undefined
          ? notCommitted()
          : committed({ ok: true }),
    })
    .build();
  return { store, saga: built };
}

describe("inputs checked at the boundary", () => {
  it("invalid_input names every issue in its message, not only the first", async () => {
    const { saga: order } = saga();
    const log = new MemorySagaLog();
    const runner = createRunner({ log });
    const result = await runner.run(order, { orderId: 7, amount: -1 } as never);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidInput);
    if (error.code !== ErrorCode.InvalidInput) return;
    expect(error.issues.map((i) => i.path)).toEqual(["orderId", "amount", "note"]);
    for (const issue of error.issues) {
      expect(error.message).toContain(`\`${issue.path}\`: ${issue.message}`);
    }
    expect(error.message).toMatch(/^The input of saga "order" is invalid in 3 places: /);
    expect(error.message).toMatch(/Nothing was written\.$/);
    expect(await log.list()).toEqual([]);
  });

  it("invalid_input with one issue reads as one sentence about it", async () => {
    const { saga: order } = saga();
    const runner = createRunner();
    const result = await runner.run(order, { orderId: "o-1", amount: 1, note: 3 } as never);
    expect(result._unsafeUnwrapErr().message).toBe(
      'The input of saga "order" is invalid at `note`: Invalid input: expected string, received number. Nothing was written.',
    );
  });

  it("runner.run refuses a signal that is not an AbortSignal before anything is written", async () => {
    const { saga: order, store } = saga();
    const log = new MemorySagaLog();
    const runner = createRunner({ log });
    for (const signal of [{ aborted: false }, "stop", 1, null]) {
      const result = await runner.run(
        order,
        { orderId: "o-1", amount: 1, note: "" },
        { signal: signal as never },
      );
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.InvalidOptions);
      if (error.code !== ErrorCode.InvalidOptions) return;
      expect(error.option).toBe("signal");
      expect(error.message).toMatch(
        /^Expected `signal` to be an AbortSignal, got .+\. Nothing was written\.$/,
      );
    }
    expect(await log.list()).toEqual([]);
    expect(store.snapshot()).toEqual({});
  });

  it("runAtomic refuses a signal that is not an AbortSignal before anything is written", async () => {
    for (const tier of ["transactional", "batch", "plain"] as const) {
      const store = createMemoryStore({ id: "funds", tier });
      const log = new MemorySagaLog();
      const result = await runAtomic(
        store,
        [
          { name: "a", build: () => memoryPut("a", 1), undo: () => memoryPut("a", 0) },
          { name: "b", build: () => memoryPut("b", 1) },
        ],
        { signal: { aborted: false } as never, ...(tier === "plain" ? { log } : {}) },
      );
      const error = result._unsafeUnwrapErr();
      expect(error.code, tier).toBe(ErrorCode.InvalidOptions);
      if (error.code !== ErrorCode.InvalidOptions) return;
      expect(error.option).toBe("signal");
      expect(error.message).toBe(
        "Expected `signal` to be an AbortSignal, got `[object Object]` (object). Nothing was written.",
      );
      expect(store.snapshot()).toEqual({});
      expect(await log.list()).toEqual([]);
    }
  });
});
