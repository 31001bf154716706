import { expect, it } from "vitest";
import { z } from "zod";
import { type D1DatabaseLike, d1SagaLog, d1Store } from "../../../src/adapters/d1/index.js";
import { createMemoryStore, memoryPut } from "../../../src/adapters/memory/index.js";
import { committed, createRunner, defineSaga, notCommitted } from "../../../src/index.js";
import { testD1 } from "./d1-test.js";

/**
 * A binding that holds one batch back when told to: the batch is sent only once the test releases
 * it, long after the runner gave up waiting for it, as a D1 call that timed out may still land.
 */
function holdingBinding(db: D1DatabaseLike) {
  let holdNext = false;
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let lateOutcome: Promise<"applied" | "refused"> | undefined;
  const binding: D1DatabaseLike = {
    prepare: (query) => db.prepare(query),
    batch: <T>(statements: Parameters<D1DatabaseLike["batch"]>[0]) => {
      if (!holdNext) return db.batch<T>(statements);
      holdNext = false;
      const late = released.then(() => db.batch<T>(statements));
      lateOutcome = late.then(
        () => "applied" as const,
        () => "refused" as const,
      );
      return late;
    },
  };
  return {
    binding,
    holdNextBatch: () => {
      holdNext = true;
    },
    release,
    lateOutcome: () => lateOutcome,
  };
}

it("a co-committed batch that timed out is fenced by a log write, so it applies nothing when it lands late", async () => {
  const held = holdingBinding(await testD1());
  const prefix = "late_";
  const store = d1Store(held.binding, { id: "orders-d1", tablePrefix: prefix });
  const log = d1SagaLog(held.binding, { store, tablePrefix: prefix });
  const orders = `${prefix}orders`;
  await store.handle.run(`CREATE TABLE ${orders} (id TEXT PRIMARY KEY, attempt INTEGER NOT NULL)`);
  const mail = createMemoryStore({ id: "mail", tier: "plain" });
  let executions = 0;
  // A first step elsewhere creates the saga's record, so the log can be fenced before the D1 step.
  const saga = defineSaga("late-order", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store: mail,
      kind: "compensatable",
      output: z.object({ held: z.boolean() }),
      execute: async ({ input, handle }) => {
        await handle.apply(memoryPut(`hold:${input.id}`, "held"));
        return { held: true };
      },
      probe: async () => committed({ held: true }),
      compensate: async () => ({ status: "compensated" as const }),
    })
    .step("place", {
      store,
      kind: "pivot",
      timeoutMs: 300,
      output: z.object({ id: z.string() }),
      execute: async ({ input, handle, attempt }) => {
        executions++;
        if (executions === 1) held.holdNextBatch();
        void handle.run(`INSERT INTO ${orders} (id, attempt) VALUES (?, ?)`, [input.id, attempt]);
        return { id: input.id };
      },
      probe: async ({ input, handle }) =>
        (await handle.first(`SELECT id FROM ${orders} WHERE id = ?`, [input.id]))
          ? committed({ id: input.id })
          : notCommitted(),
    })
    .build();
  const runner = createRunner({ log, retry: { attempts: 3, initialDelayMs: 1 } });
  const result = await runner.run(saga, { id: "o-1" }, { sagaId: "saga-late" });
  expect(result._unsafeUnwrap().status).toBe("completed");
  expect(executions, "the timed-out attempt was retried").toBe(2);
  held.release();
  expect(await held.lateOutcome(), "the late batch must fail its fencing check").toBe("refused");
  const rows = await store.handle.all<{ id: string; attempt: number }>(`SELECT * FROM ${orders}`);
  expect(rows, "only the retry's write landed").toEqual([{ id: "o-1", attempt: 2 }]);
});
