import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  type SagaChange,
  type SagaLog,
  SagaLogError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/**
 * A pivot on a store that fences attempts by token (it keeps the highest fencing token it has seen
 * and refuses a request carrying a lower one), whose call times out with its request still in
 * flight. Before trusting the probe's "not committed", the runner makes a new attempt generation
 * durable, so the probe and every later attempt carry a higher token than the abandoned one; when
 * that write cannot be made, only a commit the probe finds is believed.
 */

type FenceWrite = "ok" | "io_error" | "lease_taken";

function world() {
  const state = { held: 0, charged: 0, probes: [] as number[], attempts: [] as number[] };
  const store = defineStore({ id: "bank", handle: state, fence: { mode: "fence_token" } });
  const saga = defineSaga("fenced", { input: z.object({}) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({ held: z.boolean() }),
      execute: async () => {
        state.held++;
        return { held: true };
      },
      probe: async () => (state.held > 0 ? committed({ held: true }) : notCommitted()),
      compensate: async () => {
        state.held--;
        return compensated();
      },
    })
    .step("charge", {
      store,
      kind: "pivot",
      timeoutMs: 100,
      retry: { attempts: 2, initialDelayMs: 1 },
      output: z.object({ charged: z.boolean() }),
      // The first attempt's request never answers; the second goes through.
      execute: ({ fencingToken }) => {
        state.attempts.push(fencingToken);
        if (state.attempts.length === 1) return new Promise<never>(() => {});
        state.charged++;
        return Promise.resolve({ charged: true });
      },
      probe: async ({ fencingToken }) => {
        state.probes.push(fencingToken);
        return state.charged > 0 ? committed({ charged: true }) : notCommitted();
      },
    })
    .build();
  return { state, saga };
}

/** The memory log, doing `fenceWrite` to the write that raises the fencing token. */
function fencedLog(real: MemorySagaLog, fenceWrite: FenceWrite): SagaLog {
  return new Proxy(real, {
    get(target, property) {
      if (property === "write") {
        return async (sagaId: string, token: number, change: SagaChange) => {
          if (change.fence === true && fenceWrite === "io_error") {
            throw new SagaLogError("io", sagaId, "disk full");
          }
          if (change.fence === true && fenceWrite === "lease_taken") {
            // Another runner holds the saga under a higher token: the log refuses this one.
            throw new SagaLogError("stale_token", sagaId, "the saga's lease is held by recoverer");
          }
          return target.write(sagaId, token, change);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as SagaLog;
}

async function run(fenceWrite: FenceWrite) {
  const clock = new VirtualClock();
  const real = new MemorySagaLog();
  const { state, saga } = world();
  const runner = createRunner({ clock, log: fencedLog(real, fenceWrite), leaseTtlMs: 1_000 });
  const result = await clock.run(runner.run(saga, {}, { sagaId: "f-1" }));
  return { state, result, real };
}

describe("a timed-out attempt on a store that fences by token", () => {
  it("is closed by a durable new token: the probe and the retry carry it, and the saga completes", async () => {
    const { state, result, real } = await run("ok");
    expect(result.isOk(), result.isErr() ? result.error.message : "").toBe(true);
    const [first, second] = state.attempts;
    expect(state.probes).toHaveLength(1);
    expect(state.probes[0]).toBeGreaterThan(first as number);
    expect(second).toBe(state.probes[0]);
    expect(state.charged).toBe(1);
    expect((await real.load("f-1"))?.record.fencingToken).toBe(second);
  });

  it("whose new token cannot be written is in doubt: a probe's 'not committed' is not believed", async () => {
    const { state, result } = await run("io_error");
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InDoubt);
    expect(state.attempts).toHaveLength(1);
    expect(state.probes).toEqual([state.attempts[0]]);
    expect(state.held).toBe(1);
  });

  it("stops with lease_lost, probing nothing, when its lease was taken before the new token", async () => {
    const { state, result } = await run("lease_taken");
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.LeaseLost);
    expect(state.probes).toEqual([]);
    expect(state.attempts).toHaveLength(1);
  });
});
