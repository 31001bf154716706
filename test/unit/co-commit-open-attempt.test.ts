import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/index.js";
import { SagaStatus } from "../../src/model/records.js";
import {
  landsAfter,
  openOrdersWorld,
  orderSaga,
  rollsBackAfter,
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

describe("a co-committed group whose call outlives its deadline", () => {
  // Two steps of 100 ms: the group's deadline is 200 ms after it starts.
  const timing = { timeoutMs: 100, first: true } as const;

  it("on an in-process store, waits for the abandoned call, then finds the commit it made", async () => {
    const { saga, counts } = orderSaga(storeOf(w, [landsAfter(w, 5_000)]), timing);
    const { result, entries } = await run(w, saga);
    expect(result._unsafeUnwrap().steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["note", "committed", 1],
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
    ]);
    expect(counts).toMatchObject({ reserve: 1, charge: 1, released: 0, unnoted: 0 });
    expect(await rows(w)).toEqual(["o-1:charge", "o-1:reserve"]);
    expect(entries?.slice(2)).toEqual([
      ["reserve", "committed", 1],
      ["charge", "committed", 1],
    ]); // The wait for the call is over: its timer does not outlive it.
    expect(w.clock.pending).toBe(0);
  });

  it("on an in-process store, waits for the abandoned call, then runs the group again when it rolled back", async () => {
    const { saga, counts } = orderSaga(storeOf(w, [rollsBackAfter(w, 5_000)]), timing);
    const { result } = await run(w, saga);
    expect(result._unsafeUnwrap().steps.map((s) => [s.name, s.status, s.attempts])).toEqual([
      ["note", "committed", 1],
      ["reserve", "committed", 2],
      ["charge", "committed", 2],
    ]);
    expect(counts).toMatchObject({ reserve: 2, charge: 2, released: 0 });
  });

  it("on an in-process store, is in doubt when the call has not settled within its timeout and the grace", async () => {
    // The step's own 100 ms plus 15 s of grace pass before the call settles, 20 s on.
    const { saga, counts } = orderSaga(storeOf(w, [rollsBackAfter(w, 20_000)]), timing);
    const { result, snapshot } = await run(w, saga);
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    expect(snapshot?.record.status).toBe(SagaStatus.InDoubt);
    expect(counts).toMatchObject({ noted: 1, unnoted: 0, released: 0 });
  });

  it("cancelled while its call is out, waits for the call, then compensates what committed before it", async () => {
    const controller = new AbortController();
    w.clock.setTimer(() => controller.abort(new Error("the caller gave up")), 50);
    const { saga, counts } = orderSaga(storeOf(w, [rollsBackAfter(w, 5_000)]), timing);
    const { result, snapshot } = await run(w, saga, { signal: controller.signal });
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.Cancelled);
    expect(snapshot?.record.status).toBe(SagaStatus.Compensated);
    expect(counts).toMatchObject({ noted: 1, unnoted: 1, reserve: 1, charge: 1, released: 0 });
    expect(await rows(w)).toEqual([]);
  });
});
