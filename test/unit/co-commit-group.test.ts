import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  notCommitted,
} from "../../src/index.js";
import { SagaStatus } from "../../src/model/records.js";
import {
  ALL_KINDS,
  commits,
  openOrdersWorld,
  orderSaga,
  rollsBackWith,
  rows,
  run,
  storeOf,
  type World,
} from "./fixtures/co-commit-world.js";

let w: World;

beforeEach(async () => {
  w = await openOrdersWorld();
});

afterEach(() => w.temp.remove());

/** note (memory) → reserve → charge (the pivot), the last two in one co-committed group. */
function chained(charge: (reserved: { id: string } | undefined) => unknown) {
  const notes = createMemoryStore({ tier: "plain" });
  const store = storeOf(w, []);
  let unnoted = 0;
  const saga = defineSaga("orders", { input: z.object({ id: z.string() }) })
    .step("note", {
      store: notes,
      kind: "compensatable",
      output: z.object({ noted: z.boolean() }),
      execute: async () => ({ noted: true }),
      probe: async () => committed({ noted: true }),
      compensate: async () => {
        unnoted++;
        return compensated();
      },
    })
    .step("reserve", {
      store,
      kind: "compensatable",
      output: z.object({ id: z.string() }),
      execute: async ({ input, handle }) => {
        await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:reserve`]);
        return { id: `r-${input.id}` };
      },
      probe: async () => notCommitted(),
      compensate: async () => compensated(),
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({ reservation: z.string() }),
      execute: async ({ outputs, handle }) => {
        const reserved = outputs.reserve as { id: string } | undefined;
        await handle.run("INSERT INTO orders (id) VALUES (?)", [`${reserved?.id}:charge`]);
        return charge(reserved) as { reservation: string };
      },
      probe: async () => notCommitted(),
    })
    .build();
  const go = () =>
    w.clock.run(
      createRunner({ log: w.log, clock: w.clock }).run(saga, { id: "o-1" }, { sagaId: "saga-1" }),
    );
  return { go, unnoted: () => unnoted };
}

describe("the steps of one co-committed group", () => {
  it("see the outputs of the group's earlier steps before they commit", async () => {
    const { go } = chained((reserved) => ({ reservation: reserved?.id }));
    const report = (await go())._unsafeUnwrap();
    expect(report.outputs).toMatchObject({ charge: { reservation: "r-o-1" } });
    expect(await rows(w)).toEqual(["o-1:reserve", "r-o-1:charge"]);
  });

  it("roll back together when a later step's output is invalid, which is reported at that step", async () => {
    const { go, unnoted } = chained(() => ({ reservation: 42 }));
    const error = (await go())._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(error.message).toContain('"charge"');
    expect("step" in error ? error.step : undefined).toBe("charge");
    expect(unnoted()).toBe(0);
    expect(await rows(w), "nothing of the group committed").toEqual([]);
  });

  it("that rolled back are reported as co-committed, with the failure at the step that was running", async () => {
    const store = storeOf(w, [rollsBackWith("transient"), rollsBackWith("transient")]);
    const { saga } = orderSaga(store, { first: true, attempts: 2 });
    const { result, snapshot } = await run(w, saga);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    const report = "report" in error ? error.report : undefined;
    expect(
      report?.steps.map((s) => [s.name, s.status, s.strategy, s.attempts, s.error?.kind]),
    ).toEqual([
      ["note", "compensated", "saga", 1, undefined],
      ["reserve", "not_committed", "co_committed", 2, undefined],
      ["charge", "not_committed", "co_committed", 2, "transient"],
    ]);
    const failures = snapshot?.entries.filter((e) => e.type === "not_committed");
    expect(failures?.map((e) => [e.step, e.attempt, e.error?.kind])).toEqual([
      ["reserve", 1, undefined],
      ["charge", 1, "transient"],
      ["reserve", 2, undefined],
      ["charge", 2, "transient"],
    ]);
  });
});

describe("a run that creates its saga in a co-committed group", () => {
  it("whose rows collide with an earlier run of the same id stops at once as a resubmission", async () => {
    const first = orderSaga(storeOf(w, []));
    const done = (await run(w, first.saga)).result._unsafeUnwrap();
    // The second run's group fails on the first run's rows, a failure it would retry.
    const again = orderSaga(storeOf(w, []), { retryOn: ALL_KINDS });
    const { result } = await run(w, again.saga);
    expect(result._unsafeUnwrap()).toEqual(done);
    expect(again.counts, "the group was not run again after the id was found").toMatchObject({
      reserve: 1,
      charge: 0,
    });
    expect((await w.log.load("saga-1"))?.record.status).toBe(SagaStatus.Completed);
  });

  it("whose commit's answer is lost is not taken for the group another run of the id committed", async () => {
    const first = orderSaga(storeOf(w, []), { last: true });
    (await run(w, first.saga)).result._unsafeUnwrap();
    await w.base.handle.run("DELETE FROM orders");
    // The same steps at the same attempts are in the log, but the record is the first run's.
    const again = orderSaga(storeOf(w, [rollsBackWith("unknown")]), { last: true });
    const { result } = await run(w, again.saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(again.counts, "the second run went on as if its group had landed").toMatchObject({
      reserve: 1,
      charge: 1,
      shipped: 0,
    });
    expect(await rows(w)).toEqual([]);
  });
});

describe("a saga with two co-committed groups", () => {
  it("does not take the first group's records for the second's when the second's answer is lost", async () => {
    const notes = createMemoryStore({ tier: "plain" });
    const store = storeOf(w, [commits, rollsBackWith("unknown")]);
    let charged = 0;
    const saga = defineSaga("orders", { input: z.object({ id: z.string() }) })
      .step("reserve", {
        store,
        kind: "compensatable",
        output: z.object({}),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:reserve`]);
          return {};
        },
        probe: async () => notCommitted(),
        compensate: async () => compensated(),
      })
      .step("note", {
        store: notes,
        kind: "compensatable",
        output: z.object({}),
        execute: async () => ({}),
        probe: async () => committed({}),
        compensate: async () => compensated(),
      })
      .step("charge", {
        store,
        kind: "pivot",
        retry: { attempts: 3, initialDelayMs: 1 },
        output: z.object({}),
        execute: async ({ input, handle }) => {
          charged++;
          await handle.run("INSERT INTO orders (id) VALUES (?)", [`${input.id}:charge`]);
          return {};
        },
        probe: async () => notCommitted(),
      })
      .build();
    const result = await w.clock.run(
      createRunner({ log: w.log, clock: w.clock }).run(saga, { id: "o-1" }, { sagaId: "saga-1" }),
    );
    expect(result._unsafeUnwrap().steps.map((s) => [s.name, s.strategy, s.attempts])).toEqual([
      ["reserve", "co_committed", 1],
      ["note", "saga", 1],
      ["charge", "co_committed", 2],
    ]);
    expect(charged).toBe(2);
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
  });
});
