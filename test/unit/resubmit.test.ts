import { describe, expect, it } from "vitest";
import { createRecoverer, createRunner, ErrorCode, StoreError } from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { injectFault } from "../support/faults.js";
import { createWorld, orderSaga } from "../support/orders.js";

const INPUT = { orderId: "o-1", account: "alice", amount: 30 };

function setup() {
  const clock = new VirtualClock();
  const world = createWorld("transactional");
  const runner = createRunner({ clock, leaseTtlMs: 1_000 });
  const saga = orderSaga(world, clock);
  return { clock, world, runner, saga };
}

describe("resubmitting a saga id", () => {
  it("returns the recorded outcome of a completed saga without doing anything again", async () => {
    const { clock, world, runner, saga } = setup();
    const first = (await clock.run(runner.run(saga, INPUT, { sagaId: "req-1" })))._unsafeUnwrap();
    const writes = world.funds.writeCount + world.orders.writeCount;
    const again = (await clock.run(runner.run(saga, INPUT, { sagaId: "req-1" })))._unsafeUnwrap();
    expect(again.status).toBe("completed");
    expect(again.outputs).toEqual(first.outputs);
    expect(world.funds.writeCount + world.orders.writeCount).toBe(writes);
    expect(world.keysSeen.reserve).toHaveLength(1);
  });

  it("finishes a saga left incomplete, from where it stopped", async () => {
    const { clock, world, runner, saga } = setup();
    const fault = injectFault(
      world.orders,
      { phase: "before", keyPrefix: "notice:" },
      {
        type: "throw",
        error: new StoreError("transient", "notifications are down"),
      },
      2,
    );
    const first = await clock.run(runner.run(saga, INPUT, { sagaId: "req-2" }));
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.Incomplete);
    expect(fault.fired()).toBe(2);
    const again = (await clock.run(runner.run(saga, INPUT, { sagaId: "req-2" })))._unsafeUnwrap();
    expect(again.status).toBe("completed");
    expect(again.steps.map((s) => s.attempts)).toEqual([1, 1, 3]);
    expect(world.keysSeen.reserve).toHaveLength(1);
    expect(world.keysSeen.confirm).toHaveLength(1);
  });

  it("reports a compensated saga's failure again without compensating twice", async () => {
    const { clock, world, runner, saga } = setup();
    injectFault(
      world.orders,
      { phase: "before", keyPrefix: "order:" },
      {
        type: "throw",
        error: new StoreError("not_committed", "refused"),
      },
    );
    const first = (
      await clock.run(runner.run(saga, INPUT, { sagaId: "req-3" }))
    )._unsafeUnwrapErr();
    expect(first.code).toBe(ErrorCode.StepFailed);
    const writes = world.funds.writeCount;
    const again = (
      await clock.run(runner.run(saga, INPUT, { sagaId: "req-3" }))
    )._unsafeUnwrapErr();
    expect(again.code).toBe(ErrorCode.StepFailed);
    if (again.code === ErrorCode.StepFailed) {
      expect(again.step).toBe("confirm");
      expect(again.report.status).toBe("compensated");
    }
    expect(world.funds.writeCount).toBe(writes);
  });

  it("refuses the same id while another runner holds its lease", async () => {
    const { clock, world, runner, saga } = setup();
    injectFault(world.orders, { phase: "before", keyPrefix: "order:" }, { type: "hang" });
    const slow = createRunner({ clock, leaseTtlMs: 60_000, timeoutMs: 30_000, log: runner.log });
    const running = slow.run(saga, INPUT, { sagaId: "req-4" });
    await clock.run(new Promise((resolve) => setImmediate(resolve)));
    const second = await runner.run(saga, INPUT, { sagaId: "req-4" });
    const error = second._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.SagaExists);
    expect(error.message).toContain("is being run by");
    await clock.run(running);
  });
});

describe("the lease heartbeat", () => {
  it("keeps a step that outlives the lease's time-to-live from being taken over", async () => {
    const { clock, world, runner, saga } = setup();
    const recoverer = createRecoverer({
      runner: createRunner({ clock, log: runner.log }),
      sagas: [saga],
    });
    const claims: number[] = [];
    // The pivot takes five lease lifetimes; a recoverer polls all the while.
    injectFault(
      world.orders,
      { phase: "before", keyPrefix: "order:" },
      {
        type: "run",
        fn: async () => {
          for (let i = 0; i < 10; i++) {
            await new Promise<void>((resolve) => clock.setTimer(resolve, 500));
            claims.push((await recoverer.recover())._unsafeUnwrap().claimed);
          }
        },
      },
    );
    const slow = createRunner({ clock, leaseTtlMs: 1_000, timeoutMs: 60_000, log: runner.log });
    const result = await clock.run(slow.run(saga, INPUT));
    expect(result._unsafeUnwrap().status).toBe("completed");
    expect(claims).toEqual(new Array(10).fill(0));
  });
});
