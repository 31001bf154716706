import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, type SagaLog } from "../../src/index.js";
import { SagaStatus } from "../../src/model/records.js";
import {
  commitsThenFails,
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

describe("a co-committed group whose commit's answer is lost", () => {
  it("that landed while creating the saga is found in the log written with it: the group is not run again", async () => {
    const { saga, counts } = orderSaga(storeOf(w, [commitsThenFails("unknown")]), { last: true });
    const { result, snapshot, entries, events } = await run(w, saga);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.map((s) => [s.name, s.status, s.attempts, s.committedVia])).toEqual([
      ["reserve", "committed", 1, "execute"],
      ["charge", "committed", 1, "execute"],
      ["ship", "committed", 1, "execute"],
    ]);
    expect(counts).toMatchObject({ reserve: 1, charge: 1, released: 0, shipped: 1 });
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(entries).toEqual([
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
      ["ship", "intent", 1],
      ["ship", "committed", 1],
    ]);
    expect(events.filter((e) => e.type === "step.retrying")).toEqual([]);
    expect(events.filter((e) => e.type === "step.committed")).toMatchObject([
      { step: "reserve", attempt: 1, via: "execute" },
      { step: "charge", attempt: 1, via: "execute" },
      { step: "ship", attempt: 1, via: "execute" },
    ]);
  });

  it("that landed while creating and completing the saga leaves it completed, run once", async () => {
    const { saga, counts } = orderSaga(storeOf(w, [commitsThenFails("unknown")]));
    const { result, snapshot, entries } = await run(w, saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(counts).toMatchObject({ reserve: 1, charge: 1, released: 0 });
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(snapshot?.record.status).toBe(SagaStatus.Completed);
    expect(entries).toEqual([
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
    ]);
  });

  it("that landed after an earlier step created the saga is found the same way", async () => {
    const { saga, counts } = orderSaga(storeOf(w, [commitsThenFails("timeout")]), { first: true });
    const { result, entries } = await run(w, saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(counts).toMatchObject({ noted: 1, reserve: 1, charge: 1, released: 0 });
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(entries).toEqual([
      ["note", "intent", 1],
      ["note", "committed", 1],
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
    ]);
  });

  it("that rolled back is run again once the log shows it did not land", async () => {
    const { saga, counts } = orderSaga(storeOf(w, [rollsBackWith("unknown")]), { first: true });
    const { result, entries, events } = await run(w, saga);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    expect(report.steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["note", "committed", 1],
      ["reserve", "committed", 2],
      ["charge", "committed", 2],
    ]);
    expect(counts).toMatchObject({ reserve: 2, charge: 2, released: 0 });
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(entries).toEqual([
      ["note", "intent", 1],
      ["note", "committed", 1],
      ["reserve", "intent", 1],
      ["reserve", "not_committed", 1],
      ["charge", "intent", 1],
      ["charge", "not_committed", 1],
      ["reserve", "committed", 2],
      ["charge", "committed", 2],
    ]);
    expect(events.filter((e) => e.type === "step.retrying")).toMatchObject([
      { step: "charge", attempt: 1 },
    ]);
  });

  it("on a store that cannot close an attempt, is in doubt when the log does not show it", async () => {
    const store = storeOf(w, [rollsBackWith("unknown")], { mode: "none" });
    const { saga, counts } = orderSaga(store, { first: true });
    const { result, snapshot } = await run(w, saga);
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(snapshot?.record.status).toBe(SagaStatus.InDoubt);
    // Nothing is compensated or retried: the commit may still land.
    expect(counts).toMatchObject({ noted: 1, unnoted: 0, reserve: 1, charge: 1, released: 0 });
    expect(await rows(w)).toEqual([]);
  });

  it("on a store that cannot close an attempt, is still found when the log shows it", async () => {
    const store = storeOf(w, [commitsThenFails("unknown")], { mode: "none" });
    const { saga, counts } = orderSaga(store, { first: true });
    const { result } = await run(w, saga);
    expect(result._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(counts).toMatchObject({ reserve: 1, charge: 1 });
  });

  it("is in doubt when the log cannot be read back, and nothing is compensated", async () => {
    let failLoads = 0;
    const flaky = new Proxy(w.log, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== "load") return typeof value === "function" ? value.bind(target) : value;
        return async (sagaId: string) => {
          if (failLoads > 0) {
            failLoads--;
            throw new Error("the log is unreachable for a moment");
          }
          return target.load(sagaId);
        };
      },
    }) as SagaLog;
    const lost = rollsBackWith("unknown");
    const store = storeOf(w, [
      async (base, work, scope) => {
        failLoads = 1;
        return lost(base, work, scope);
      },
    ]);
    const { saga, counts } = orderSaga(store, { first: true });
    const { result, snapshot } = await run(w, saga, { log: flaky });
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(snapshot?.record.status).toBe(SagaStatus.InDoubt);
    expect(counts).toMatchObject({ noted: 1, unnoted: 0, reserve: 1, charge: 1, released: 0 });
    expect(await rows(w)).toEqual([]);
  });
});

describe("a co-committed group in one deferred batch whose answer is lost", () => {
  it("is fenced off in the log once the saga exists, then run again", async () => {
    const store = storeOf(w, [rollsBackWith("unknown")], { mode: "none" }, "batch");
    const { saga, counts } = orderSaga(store, { first: true });
    const before = await run(w, saga);
    const report = before.result._unsafeUnwrap();
    expect(report.steps.map((s) => [s.name, s.strategy, s.status, s.attempts])).toEqual([
      ["note", "saga", "committed", 1],
      ["reserve", "batch_co_committed", "committed", 2],
      ["charge", "batch_co_committed", "committed", 2],
    ]);
    expect(counts).toMatchObject({ noted: 1, reserve: 2, charge: 2, released: 0 });
    // The fence raised the saga's token: a batch planned under the old one applies nothing.
    expect(before.snapshot?.record.fencingToken).toBe(2);
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
  });

  it("that landed is found in the log once fenced, and not run again", async () => {
    const store = storeOf(w, [commitsThenFails("unknown")], { mode: "none" }, "batch");
    const { saga, counts } = orderSaga(store, { first: true });
    const { result } = await run(w, saga);
    expect(result._unsafeUnwrap().steps.map((s) => s.attempts)).toEqual([1, 1, 1]);
    expect(counts).toMatchObject({ reserve: 1, charge: 1 });
  });

  it("that creates the saga cannot be fenced: a batch the log does not show is in doubt", async () => {
    const store = storeOf(w, [rollsBackWith("unknown")], { mode: "none" }, "batch");
    const { saga, counts } = orderSaga(store, { last: true });
    const { result } = await run(w, saga);
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(counts).toMatchObject({ reserve: 1, charge: 1, shipped: 0 });
    expect(await rows(w)).toEqual([]);
  });
});
