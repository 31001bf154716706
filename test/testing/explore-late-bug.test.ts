import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type CallScope,
  committed,
  compensated,
  defineSaga,
  defineStore,
  notCommitted,
  type StepCall,
  StoreError,
} from "../../src/index.js";
import {
  createMemoryStore,
  exploreCrashPoints,
  type FaultableStore,
  type MemoryHandle,
  type MemoryStore,
  TestingErrorCode,
} from "../../src/testing/index.js";

const input = z.object({ orderId: z.string() });
const held = z.object({ version: z.number() });

/**
 * A store over a memory store that declares a `fence_token` fence: each request carries the saga's
 * fencing token, and a store that checks them refuses one lower than the highest it has seen for
 * the saga. With `checksTokens: false` it declares the fence and never checks: the bug.
 */
function tokenStore(memory: MemoryStore, checksTokens: boolean): FaultableStore {
  const highest = new Map<string, number>();
  const fenced = (handle: MemoryHandle, call: StepCall): MemoryHandle => {
    const admit = () => {
      const seen = highest.get(call.sagaId) ?? 0;
      if (checksTokens && call.fencingToken < seen) {
        throw new StoreError(
          "not_committed",
          `Refused a request of saga ${call.sagaId} with fencing token ${call.fencingToken}: ${seen} was seen.`,
        );
      }
      highest.set(call.sagaId, Math.max(seen, call.fencingToken));
    };
    return {
      ...handle,
      get: async (key) => {
        admit();
        return handle.get(key);
      },
      put: async (key, value, ifVersion) => {
        admit();
        return handle.put(key, value, ifVersion);
      },
      delete: async (key, ifVersion) => {
        admit();
        return handle.delete(key, ifVersion);
      },
    };
  };
  return defineStore({
    id: "orders",
    handle: memory.handle,
    handleFor: (scope: CallScope, call: StepCall) =>
      fenced(memory.handleFor?.(scope, call) ?? memory.handle, call),
    fence: { mode: "fence_token" },
    capabilities: { conditionalWrite: true },
    apply: memory.apply,
    affected: memory.affected,
  });
}

/**
 * A hold (compensatable, retried once) whose write names the attempt that made it, then a payment
 * the provider always refuses, so the hold is compensated. Its dry run calls the store three times:
 * the hold's put, then the compensation's get and delete.
 */
function holdThenRefusedPayment(world: { stores: { orders: FaultableStore } }) {
  const orders = world.stores.orders as unknown as MemoryStore;
  return defineSaga("hold-then-pay", { input })
    .step("hold", {
      store: orders,
      kind: "compensatable",
      output: held,
      retry: { attempts: 2, initialDelayMs: 10 },
      execute: async ({ input, key, attempt, handle }) => {
        const put = await handle.put(`hold:${input.orderId}`, { key, attempt }, "absent");
        if (put.affected === 1) return { version: put.version ?? 0 };
        throw new StoreError("conflict", `Hold ${input.orderId} is taken.`);
      },
      probe: async ({ input, key, handle }) => {
        const doc = await handle.get(`hold:${input.orderId}`);
        return (doc?.value as { key?: string } | undefined)?.key === key
          ? committed({ version: doc?.version ?? 0 })
          : notCommitted();
      },
      compensate: async ({ input, key, handle }) => {
        const doc = await handle.get(`hold:${input.orderId}`);
        if ((doc?.value as { key?: string } | undefined)?.key === key) {
          await handle.delete(`hold:${input.orderId}`, doc?.version);
        }
        return compensated();
      },
    })
    .step("pay", {
      store: orders,
      kind: "pivot",
      output: held,
      execute: async () => {
        throw new StoreError("not_committed", "the card was declined");
      },
      probe: async () => notCommitted(),
    })
    .build();
}

type Flavour = "the memory store" | "a store that checks tokens" | "ignores tokens";

function explore(flavour: Flavour, lateFaults = true) {
  return exploreCrashPoints({
    setup: () => {
      const memory = createMemoryStore({ id: "orders", tier: "plain" });
      const orders =
        flavour === "the memory store"
          ? memory
          : tokenStore(memory, flavour === "a store that checks tokens");
      return { stores: { orders }, snapshot: () => memory.snapshot() };
    },
    saga: holdThenRefusedPayment,
    input: { orderId: "o-1" },
    timeoutMs: 1_000,
    lateFaults: lateFaults ? { landingMs: 5_000 } : false,
    // The effect checkers alone judge what landed here, to show that they find it.
    allowUncheckedStores: true,
  });
}

describe("the crash explorer's late mode", () => {
  it("finds a store that declares a token fence and does not check tokens: the late hold lands after its compensation, doubling the retry", async () => {
    const result = await explore("ignores tokens");
    expect(result.isErr()).toBe(true);
    const error = result._unsafeUnwrapErr();
    console.log(`store ignoring its tokens: ${error.message.split("\n").slice(0, 2).join(" ")}`);
    expect(error.code).toBe(TestingErrorCode.InvariantViolated);
    const report = error.report;
    expect(report.storeCalls).toBe(3);
    expect(report.lateRuns).toBe(6);
    expect(report.latePoints).toBe(report.lateReached);
    expect(report.unreached).toEqual([]);
    const late = { site: "orders.handle.put", call: 1, kind: "late_landing" };
    const found = report.violations.filter(
      (v) => v.schedule.point === 0 && JSON.stringify(v.schedule.late) === JSON.stringify(late),
    );
    expect(found.map((v) => v.invariant).sort()).toEqual([
      "effects match the log",
      "effects match the log",
      "no effect applied twice",
      "no effect applied twice",
    ]);
    expect(found[0]?.message).toMatch(
      /^Step "hold" of saga "saga-1" \(compensated\) is compensated in the log, but its effect at orders\.handle\.put \(execution 1, attempt 1, landed after its deadline\) applied after its last compensation began/,
    );
    expect(error.message).toContain(`only: [{"point":0,"late":${JSON.stringify(late)}}]`);
    // The schedule replays alone, and the same schedule passes on a store that checks its tokens.
    const replay = await exploreCrashPoints({
      setup: () => {
        const memory = createMemoryStore({ id: "orders", tier: "plain" });
        return { stores: { orders: tokenStore(memory, false) }, snapshot: () => memory.snapshot() };
      },
      saga: holdThenRefusedPayment,
      input: { orderId: "o-1" },
      timeoutMs: 1_000,
      lateFaults: { landingMs: 5_000 },
      allowUncheckedStores: true,
      only: [{ point: 0, late: late as { site: string; call: number; kind: "late_landing" } }],
    });
    expect(replay._unsafeUnwrapErr().report.violations.map((v) => v.message)).toContain(
      found[0]?.message,
    );
    // Crash points alone never show it: the late mode is what finds it.
    const crashesOnly = await explore("ignores tokens", false);
    expect(crashesOnly.isOk()).toBe(true);
    expect(crashesOnly._unsafeUnwrap().lateRuns).toBe(0);
  });

  it.each(["a store that checks tokens", "the memory store"] as const)(
    "passes the same exploration on %s",
    async (flavour) => {
      const result = await explore(flavour);
      if (result.isErr()) throw new Error(result.error.message);
      const report = result.value;
      console.log(
        `${flavour}: ${report.lateRuns} late runs, ${report.latePoints} late crash points, ${report.runs} runs, outcomes ${JSON.stringify(report.outcomes)}`,
      );
      // The hold's put, the compensation's get and delete: each once late, once slow to commit.
      expect(report.storeCalls).toBe(3);
      expect(report.lateRuns).toBe(6);
      expect(report.latePoints).toBeGreaterThan(0);
      expect(report.lateReached).toBe(report.latePoints);
      expect(report.reached).toBe(report.points);
      expect(report.violations).toEqual([]);
    },
  );
});
