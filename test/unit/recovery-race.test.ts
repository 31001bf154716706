import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createRecoverer, createRunner, MemorySagaLog, type SagaLog } from "../../src/index.js";
import { CrashSwitch } from "../../src/testing/crash-switch.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { createWorld, orderSaga } from "../support/orders.js";

const TTL = 1_000;
const SAGAS = 4;

/** Leaves SAGAS sagas interrupted in one log: crashed at different boundaries, leases expired. */
async function crashedLog() {
  const clock = new VirtualClock();
  const world = createWorld("transactional");
  const log = new MemorySagaLog();
  const saga = orderSaga(world, clock);
  // Boundaries 4, 8, 11, 14 fall before, at and after the pivot on the happy path (15 in all).
  const points = [4, 8, 11, 14];
  expect(points).toHaveLength(SAGAS);
  for (let n = 0; n < SAGAS; n++) {
    const crash = new CrashSwitch(points[n] as number);
    const hook = (point: { phase: string }) => crash.boundary(`store ${point.phase}`);
    world.funds.faults = hook;
    world.orders.faults = hook;
    const runner = createRunner({ clock, log: crash.wrapLog(log), leaseTtlMs: TTL });
    await clock.run(runner.run(saga, { orderId: `o-${n}`, account: "alice", amount: 10 }));
    expect(crash.dead).toBe(true);
  }
  world.funds.faults = undefined;
  world.orders.faults = undefined;
  clock.advance(TTL + 1);
  return { clock, world, log };
}

/** Schedules every call into the log, so fast-check chooses how two recoverers interleave. */
function scheduledLog(log: SagaLog, s: fc.Scheduler): SagaLog {
  return new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return s.scheduleFunction(async (...args: unknown[]) => value.apply(target, args));
    },
  });
}

describe("two recoverers racing on one log", () => {
  it("never drive the same saga, and drive every saga to an end exactly once", async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        runs++;
        const { clock, world, log } = await crashedLog();
        // Each recoverer gets its own copy of the saga, so step calls reveal who drove what.
        const drivers = new Map<string, Set<string>>();
        const recoverers = ["r1", "r2"].map((owner) => {
          const saga = orderSaga(world, clock);
          const instrumented = {
            ...saga,
            steps: saga.steps.map((step) => {
              const spy = <F extends ((ctx: never) => unknown) | undefined>(fn: F): F =>
                (fn &&
                  ((ctx: { sagaId: string }) => {
                    mark(drivers, ctx.sagaId, owner);
                    return fn(ctx as never);
                  })) as unknown as F;
              return {
                ...step,
                execute: spy(step.execute),
                probe: spy(step.probe),
                compensate: spy(step.compensate),
              };
            }),
          } as typeof saga;
          const runner = createRunner({ clock, log: scheduledLog(log, s), owner, leaseTtlMs: TTL });
          return createRecoverer({ runner, sagas: [instrumented] });
        });
        const drain = async (recoverer: (typeof recoverers)[number]) => {
          const outcomes: string[] = [];
          for (;;) {
            const pass = (await recoverer.recover({ limit: 1 }))._unsafeUnwrap();
            if (pass.claimed === 0) return outcomes;
            outcomes.push(...pass.sagas.map((r) => r.outcome));
          }
        };
        const [a, b] = await s.waitFor(Promise.all(recoverers.map(drain)));
        const records = await log.list();
        expect(records).toHaveLength(SAGAS);
        for (const record of records) {
          expect(["completed", "compensated"], `${s.report().length} steps`).toContain(
            record.status,
          );
          expect(
            drivers.get(record.sagaId)?.size ?? 0,
            `saga ${record.sagaId} was driven by both`,
          ).toBeLessThanOrEqual(1);
        }
        expect(
          [...(a ?? []), ...(b ?? [])].filter((o) => o === "completed" || o === "compensated"),
        ).toHaveLength(SAGAS);
      }),
      { numRuns: 200, seed: 20261124 },
    );
    expect(runs).toBeGreaterThanOrEqual(200);
  });
});

function mark(drivers: Map<string, Set<string>>, sagaId: string, owner: string): void {
  const set = drivers.get(sagaId) ?? new Set<string>();
  set.add(owner);
  drivers.set(sagaId, set);
}
