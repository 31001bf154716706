import { describe, expect, it } from "vitest";
import {
  createRecoverer,
  createRunner,
  ErrorCode,
  MemorySagaLog,
  type SagaLog,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { createWorld, orderSaga } from "../support/orders.js";

const INPUT = { orderId: "o-1", account: "alice", amount: 30 };

/** A log whose `n`th write never answers. */
function hangingLog(log: SagaLog, n: number): SagaLog {
  let writes = 0;
  return new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== "write" || typeof value !== "function")
        return typeof value === "function" ? value.bind(target) : value;
      return (...args: unknown[]) =>
        ++writes === n ? new Promise<never>(() => {}) : value.apply(target, args);
    },
  });
}

describe("a saga log that stops answering", () => {
  it("ends the run at the deadline instead of holding the saga forever, and recovery takes it over", async () => {
    const clock = new VirtualClock();
    const world = createWorld("transactional");
    const log = new MemorySagaLog();
    const saga = orderSaga(world, clock);
    const runner = createRunner({
      clock,
      log: hangingLog(log, 1),
      leaseTtlMs: 3_000,
      timeoutMs: 1_000,
    });
    const start = clock.now();
    const result = await clock.run(runner.run(saga, INPUT));
    expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.LogFailed);
    expect(clock.now() - start).toBeLessThanOrEqual(1_000);
    // The heartbeat stopped with the run, so the lease lapses and recovery can claim the saga.
    clock.advance(3_001);
    const recoverer = createRecoverer({ runner: createRunner({ clock, log }), sagas: [saga] });
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(pass.claimed).toBe(1);
    expect(["completed", "compensated"]).toContain(pass.sagas[0]?.outcome);
  });
});
