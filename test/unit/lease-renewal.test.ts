import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  compensated,
  createRunner,
  defineSaga,
  MemorySagaLog,
  notCommitted,
  type SagaLog,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

const TTL = 1_000;

/** `log`, whose lease renewals fail while `outage.down` is set, as a log the runner cannot reach. */
function flakyRenewals(log: SagaLog, outage: { down: boolean; refused: number }): SagaLog {
  return new Proxy(log, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property !== "renewLease" || typeof value !== "function") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: Parameters<SagaLog["renewLease"]>) => {
        if (!outage.down) return target.renewLease(...args);
        outage.refused++;
        return Promise.reject(new Error("the log is unreachable"));
      };
    },
  });
}

/**
 * A saga whose first step outlives its lease while the log cannot renew it (every heartbeat
 * renewal fails), then finds the log back; its second step asks whether another runner could claim
 * the saga now, as a recoverer scanning for expired leases would.
 */
function world() {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const outage = { down: false, refused: 0 };
  const store = createMemoryStore({ tier: "transactional" });
  const claims: string[][] = [];
  const saga = defineSaga("lease-lapse", { input: z.null() })
    .step("hold", {
      store,
      kind: "compensatable",
      timeoutMs: 60_000,
      output: z.null(),
      execute: async ({ handle }) => {
        await handle.put("hold", 1);
        outage.down = true;
        await new Promise<void>((resolve) => clock.setTimer(resolve, 3 * TTL));
        outage.down = false;
        return null;
      },
      probe: async () => notCommitted(),
      compensate: async () => compensated(),
    })
    .step("order", {
      store,
      kind: "pivot",
      output: z.null(),
      execute: async ({ handle }) => {
        const claimed = await log.claimRecoverable("another-runner", TTL, clock.now(), 10);
        claims.push(claimed.map((c) => c.sagaId));
        await handle.put("order", 1);
        return null;
      },
      probe: async () => notCommitted(),
    })
    .build();
  const runner = createRunner({ clock, log: flakyRenewals(log, outage), leaseTtlMs: TTL });
  return { clock, log, outage, store, saga, runner, claims };
}

describe("a runner whose lease lapsed while the log could not renew it", () => {
  it("renews it before its next log write, so no other runner can claim the saga it still runs", async () => {
    const { clock, log, outage, store, saga, runner, claims } = world();
    const result = await clock.run(runner.run(saga, null));
    expect(
      outage.refused,
      "the heartbeat must have tried to renew during the outage",
    ).toBeGreaterThan(0);
    expect(claims, "the second step must have run once").toHaveLength(1);
    expect(claims[0], "a saga whose runner is alive must not be claimable").toEqual([]);
    expect(result.isOk(), result.isErr() ? result.error.message : "").toBe(true);
    expect(Object.keys(store.snapshot()).sort()).toEqual(["hold", "order"]);
    const [record] = await log.list();
    expect(record?.status).toBe("completed");
  });
});
