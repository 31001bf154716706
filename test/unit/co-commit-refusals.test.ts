import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  AttentionReason,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  escalate,
  notCommitted,
  type SagaLog,
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

/** The world's log, whose next `failLoads()` loads fail as an unreachable log's would. */
function flakyLog(log: SagaLog) {
  let failing = 0;
  const flaky = new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== "load") return typeof value === "function" ? value.bind(target) : value;
      return async (sagaId: string) => {
        if (failing > 0) {
          failing--;
          throw new Error("the log is unreachable for a moment");
        }
        return target.load(sagaId);
      };
    },
  }) as SagaLog;
  return { log: flaky, failLoads: (n: number) => (failing = n) };
}

describe("a co-committed group whose log write is refused", () => {
  it("for a stale fencing token stops the run as taken over, without running the group again", async () => {
    const store = storeOf(w, [
      async (base, work, scope) => {
        // Another runner takes the saga over while this one is about to commit.
        const far = w.clock.now() + 1_000_000;
        expect(await w.log.acquireLease("saga-1", "another runner", 60_000, far)).toBe(2);
        return commits(base, work, scope);
      },
    ]);
    // Even a group that retries every failure is not run again by a runner that lost the saga.
    const { saga, counts } = orderSaga(store, { first: true, retryOn: ALL_KINDS });
    const { result, events, snapshot } = await run(w, saga);
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.LeaseLost);
    expect(counts).toMatchObject({ noted: 1, unnoted: 0, reserve: 1, charge: 1, released: 0 });
    expect(events.filter((e) => e.type === "step.retrying")).toEqual([]);
    expect(events.some((e) => e.type === "saga.lease_lost")).toBe(true);
    expect(await rows(w), "the zombie's writes rolled back with its log records").toEqual([]);
    // The note's outcome was to be recorded with the group's records: it rolled back with them.
    expect(snapshot?.entries.map((e) => [e.step, e.type])).toEqual([["note", "intent"]]);
  });

  it("because the saga id exists stops the run at once, even when the log cannot be read then", async () => {
    const { saga, counts } = orderSaga(storeOf(w, []));
    (await run(w, saga)).result._unsafeUnwrap();
    // The rows are gone, so the second run's own writes succeed: only the log's creation is refused.
    await w.base.handle.run("DELETE FROM orders");
    const flaky = flakyLog(w.log);
    const again = orderSaga(
      storeOf(w, [
        async (base, work, scope) => {
          try {
            return await commits(base, work, scope);
          } finally {
            flaky.failLoads(1);
          }
        },
      ]),
      { retryOn: ALL_KINDS },
    );
    await run(w, again.saga, { log: flaky.log });
    expect(again.counts, "the refused group was run again").toMatchObject({
      reserve: 1,
      charge: 1,
    });
    expect(counts).toMatchObject({ reserve: 1, charge: 1 });
    expect(await rows(w)).toEqual([]);
    expect((await w.log.load("saga-1"))?.entries).toHaveLength(2);
  });
});

describe("a co-committed group that fails for good", () => {
  it("escalated by a step stops the saga for a person at that step, compensating nothing", async () => {
    let undone = 0;
    const store = storeOf(w, []);
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
        compensate: async () => {
          undone++;
          return compensated();
        },
      })
      .step("charge", {
        store,
        kind: "pivot",
        output: z.object({}),
        execute: async () => escalate("the card's issuer froze the account"),
        probe: async () => notCommitted(),
      })
      .build();
    const result = await w.clock.run(
      createRunner({ log: w.log, clock: w.clock }).run(saga, { id: "o-1" }, { sagaId: "saga-1" }),
    );
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.step).toBe("charge");
    expect(error.reason).toBe(AttentionReason.Escalated);
    expect(error.message).toContain("the card's issuer froze the account");
    expect(undone).toBe(0);
    expect(await rows(w)).toEqual([]);
    const snapshot = await w.log.load("saga-1");
    expect(snapshot?.record.status).toBe(SagaStatus.NeedsAttention);
    expect(snapshot?.record.attention).toMatchObject({ step: "charge" });
  });

  it("rolled back every attempt: the saga fails at the group and compensates what committed before it", async () => {
    const store = storeOf(w, [rollsBackWith("transient"), rollsBackWith("transient")]);
    const { saga, counts } = orderSaga(store, { first: true, attempts: 2 });
    const { result, snapshot, events } = await run(w, saga);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    expect(counts).toMatchObject({ noted: 1, unnoted: 1, reserve: 2, charge: 2, released: 0 });
    expect(events.filter((e) => e.type === "step.retrying")).toMatchObject([
      { step: "charge", attempt: 1 },
    ]);
    expect(snapshot?.record.status).toBe(SagaStatus.Compensated);
    expect(await rows(w)).toEqual([]);
  });
});
