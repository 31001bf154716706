import { describe, expect, it } from "vitest";
import type { MemoryStore, MemoryTier } from "../../src/adapters/memory/index.js";
import {
  createRecoverer,
  createRunner,
  ErrorCode,
  MemorySagaLog,
  type SagaLog,
  StoreError,
} from "../../src/index.js";
import { CrashSwitch } from "../../src/testing/crash-switch.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { injectFault } from "../support/faults.js";
import { createWorld, orderSaga, TIERS } from "../support/orders.js";

const INPUT = { orderId: "o-1", account: "alice", amount: 30 };
const TTL = 1_000;
type Path = "happy" | "compensating";

/** Makes every store write a crash boundary, before and after its effect. */
function crashStores(stores: MemoryStore[], crash: CrashSwitch, failConfirm: boolean): void {
  for (const store of stores) {
    store.faults = (point) => {
      const what = point.phase === "committed" ? "commit" : `${point.phase} ${point.write.key}`;
      crash.boundary(`${store.id} ${what}`);
      if (failConfirm && point.phase === "before" && point.write.key.startsWith("order:")) {
        throw new StoreError("not_committed", "orders refused the write");
      }
    };
  }
}

function scenario(tier: MemoryTier, path: Path, crashAt: number | undefined) {
  const clock = new VirtualClock();
  const world = createWorld(tier);
  const log = new MemorySagaLog();
  const crash = new CrashSwitch(crashAt);
  crashStores([world.funds, world.orders], crash, path === "compensating");
  const saga = orderSaga(world, clock, {}, tier === "plain" ? "single" : "runAtomic");
  const runner = createRunner({
    clock,
    log: crash.wrapLog(log),
    leaseTtlMs: TTL,
    random: () => 0.5,
  });
  return { clock, world, log, crash, saga, runner };
}

/** Everything durable: both stores and the whole log. */
async function snapshot(world: ReturnType<typeof createWorld>, log: SagaLog) {
  const records = await log.list();
  const sagas = await Promise.all(records.map((r) => log.load(r.sagaId)));
  return JSON.stringify({ funds: world.funds.snapshot(), orders: world.orders.snapshot(), sagas });
}

/** All-or-nothing across both stores, judged from the stores alone. */
function checkAllOrNothing(
  world: ReturnType<typeof createWorld>,
  tier: MemoryTier,
): "all" | "nothing" {
  const funds = world.funds.snapshot();
  const orders = world.orders.snapshot();
  const hold = funds["hold:o-1"] !== undefined;
  const order = orders["order:o-1"] !== undefined;
  const notice = Object.keys(orders).some((k) => k.startsWith("notice:"));
  const balance = (funds["acct:alice"]?.value as { balance: number } | undefined)?.balance;
  const debited = tier === "plain" ? hold : balance === 70;
  if (hold && order && notice && debited) return "all";
  if (!hold && !order && !notice && (tier === "plain" || balance === 100)) return "nothing";
  throw new Error(`partial state: ${JSON.stringify({ funds, orders })}`);
}

async function countBoundaries(tier: MemoryTier, path: Path): Promise<number> {
  const { clock, crash, saga, runner } = scenario(tier, path, undefined);
  await clock.run(runner.run(saga, INPUT));
  return crash.count;
}

for (const tier of TIERS) {
  for (const path of ["happy", "compensating"] as const) {
    describe(`recovery after a crash at every boundary (${tier}, ${path} path)`, () => {
      it("converges to all-or-nothing, and a second pass changes nothing", async () => {
        const total = await countBoundaries(tier, path);
        expect(total).toBeGreaterThan(10);
        const outcomes: Record<string, number> = {};
        for (let point = 1; point <= total; point++) {
          const { clock, world, log, crash, saga, runner } = scenario(tier, path, point);
          await clock.run(runner.run(saga, INPUT));
          expect(crash.dead, `crash point ${point} was not reached`).toBe(true);
          // A fresh process: no crash switch, no faults, leases of the dead one expired.
          world.funds.faults = undefined;
          world.orders.faults = undefined;
          if (path === "compensating") {
            injectFault(
              world.orders,
              { phase: "before", keyPrefix: "order:" },
              {
                type: "throw",
                error: new StoreError("not_committed", "orders still refuse"),
              },
              100,
            );
          }
          clock.advance(TTL + 1);
          const recoverer = createRecoverer({
            runner: createRunner({ clock, log, leaseTtlMs: TTL }),
            sagas: [saga],
          });
          const first = (await clock.run(recoverer.recover()))._unsafeUnwrap();
          const afterFirst = await snapshot(world, log);
          clock.advance(TTL + 1);
          const second = (await clock.run(recoverer.recover()))._unsafeUnwrap();
          expect(second.claimed, `second pass after point ${point} claimed work`).toBe(0);
          expect(await snapshot(world, log)).toBe(afterFirst);
          const state = checkAllOrNothing(world, tier);
          if (path === "compensating") expect(state).toBe("nothing");
          const [record] = await log.list();
          if (record !== undefined) {
            expect(["completed", "compensated"]).toContain(record.status);
            expect(record.status === "completed").toBe(state === "all");
          } else {
            expect(state).toBe("nothing");
          }
          const key = first.claimed === 0 ? "none" : (first.sagas[0]?.outcome ?? "none");
          outcomes[key] = (outcomes[key] ?? 0) + 1;
        }
        console.log(
          `crash points (${tier}, ${path}): ${total}, outcomes ${JSON.stringify(outcomes)}`,
        );
        // Every point ran, and recovery both finished and unwound sagas across the points.
        expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(total);
        if (path === "happy") expect(outcomes.completed ?? 0).toBeGreaterThan(0);
        expect(outcomes.compensated ?? 0).toBeGreaterThan(0);
      });
    });
  }
}

describe("recoverer", () => {
  it("quarantines nothing and claims nothing while a live runner holds the lease", async () => {
    const { clock, world, log, saga } = scenario("transactional", "happy", undefined);
    injectFault(world.orders, { phase: "before", keyPrefix: "order:" }, { type: "hang" });
    const runner = createRunner({ clock, log, leaseTtlMs: 60_000, timeoutMs: 30_000 });
    const running = runner.run(saga, INPUT);
    await clock.run(new Promise((resolve) => setImmediate(resolve)));
    const recoverer = createRecoverer({ runner: createRunner({ clock, log }), sagas: [saga] });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.claimed).toBe(0);
    await clock.run(running);
  });

  it("never claims a saga it has no definition for, so recoverers of other sagas can share the log", async () => {
    const { clock, world, log, crash, saga, runner } = scenario("batch", "happy", 6);
    await clock.run(runner.run(saga, INPUT));
    expect(crash.dead).toBe(true);
    world.funds.faults = undefined;
    clock.advance(TTL + 1);
    const stranger = createRecoverer({ runner: createRunner({ clock, log }), sagas: [] });
    expect((await clock.run(stranger.recover()))._unsafeUnwrap().claimed).toBe(0);
    expect((await log.list())[0]?.status).toBe("running");
  });

  it("ends a saga whose logged definition differs from the one it was given in needs_attention", async () => {
    const { clock, world, log, crash, saga, runner } = scenario("batch", "happy", 6);
    await clock.run(runner.run(saga, INPUT));
    expect(crash.dead).toBe(true);
    world.funds.faults = undefined;
    clock.advance(TTL + 1);
    // Same name and version, but the steps were changed without bumping the version.
    const changed = {
      ...saga,
      definition: { ...saga.definition, steps: saga.definition.steps.slice(0, 2) },
    };
    const recoverer = createRecoverer({ runner: createRunner({ clock, log }), sagas: [changed] });
    const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(pass.sagas[0]?.outcome).toBe("needs_attention");
    const error = pass.sagas[0]?.error;
    expect(error?.code).toBe(ErrorCode.NeedsAttention);
    if (error?.code === ErrorCode.NeedsAttention) expect(error.reason).toBe("definition_mismatch");
  });

  it("gives up after maxAttempts on a saga that stays in doubt", async () => {
    const { clock, world, log, saga, runner } = scenario("transactional", "happy", undefined);
    world.probeBroken = true;
    injectFault(
      world.funds,
      { phase: "committed", keyPrefix: "hold:" },
      { type: "throw", error: new Error("lost") },
    );
    const first = await clock.run(runner.run(saga, INPUT));
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.InDoubt);
    const recoverer = createRecoverer({
      runner: createRunner({ clock, log }),
      sagas: [saga],
      maxAttempts: 3,
      backoff: { initialDelayMs: 100, jitter: 0 },
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      const pass = (await clock.run(recoverer.recover()))._unsafeUnwrap();
      outcomes.push(pass.sagas[0]?.outcome ?? "none");
    }
    expect(outcomes).toEqual(["in_doubt", "in_doubt", "needs_attention"]);
    const [record] = await log.list();
    expect(record?.status).toBe("needs_attention");
    expect(record?.attention?.reason).toBe("in_doubt_exhausted");
    // The write had landed and nothing undid it.
    expect(world.funds.snapshot()["hold:o-1"]).toBeDefined();
  });

  it("backs off between attempts: a pass right after a failed one leaves the saga alone", async () => {
    const { clock, world, log, saga, runner } = scenario("transactional", "happy", undefined);
    world.probeBroken = true;
    injectFault(
      world.funds,
      { phase: "committed", keyPrefix: "hold:" },
      { type: "throw", error: new Error("lost") },
    );
    await clock.run(runner.run(saga, INPUT));
    const recoverer = createRecoverer({
      runner: createRunner({ clock, log }),
      sagas: [saga],
      backoff: { initialDelayMs: 5_000, jitter: 0 },
    });
    expect((await clock.run(recoverer.recover()))._unsafeUnwrap().claimed).toBe(1);
    expect((await clock.run(recoverer.recover()))._unsafeUnwrap().claimed).toBe(0);
    clock.advance(5_000);
    world.probeBroken = false;
    const third = (await clock.run(recoverer.recover()))._unsafeUnwrap();
    // Before its pivot a recovered saga is unwound, not rolled forward: the hold is released.
    expect(third.sagas[0]?.outcome).toBe("compensated");
    expect(world.funds.snapshot()["hold:o-1"]).toBeUndefined();
  });

  it("names bad options", async () => {
    const recoverer = createRecoverer({ runner: createRunner(), sagas: [] });
    const error = (await recoverer.recover({ limit: 0 }))._unsafeUnwrapErr();
    expect(error.message).toBe("Expected `limit` to be an integer >= 1, got `0` (number).");
  });
});
