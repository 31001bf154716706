import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";
import type { BountyWorld, Flavour } from "./harness.js";

const DAY = 86_400_000;
/** Fixed, so a retry submits exactly the same input: ten days after the virtual clock starts. */
const DEADLINE = new VirtualClock().now() + 10 * DAY;
type Operation = "create" | "claim" | "settle";

/** Brings a world to the state the operation starts from, without faults or crashes. */
async function prepare(world: BountyWorld, operation: Operation): Promise<void> {
  if (operation === "create") return;
  (
    await world.run(world.runner().run(world.sagas.create, input(world, "create") as never))
  ).isOk() || fail("create");
  if (operation === "claim") return;
  (await world.run(world.runner().run(world.sagas.claim, input(world, "claim") as never))).isOk() ||
    fail("claim");
}

function fail(what: string): never {
  throw new Error(`setting up: ${what} failed`);
}

function input(_world: BountyWorld, operation: Operation) {
  if (operation === "create")
    return {
      bountyId: "b-1",
      title: "Fix the parser",
      amount: 30,
      creator: "alice",
      deadline: DEADLINE,
    };
  if (operation === "claim") return { bountyId: "b-1", agentId: "bob" };
  return { bountyId: "b-1", agentId: "bob", contributionId: "c-1" };
}

function run(world: BountyWorld, operation: Operation, sagaId: string) {
  const saga = world.sagas[operation] as Parameters<ReturnType<BountyWorld["runner"]>["run"]>[0];
  return world.run(world.runner().run(saga, input(world, operation) as never, { sagaId }));
}

/** The end state each operation must reach once recovered and retried by its caller. */
async function expectDone(world: BountyWorld, operation: Operation, label: string): Promise<void> {
  const bounty = await world.raw.bounties.get(world.raw.bounties.store.handle, "b-1");
  const expected = { create: "open", claim: "claimed", settle: "settled" }[operation];
  expect(bounty?.status, label).toBe(expected);
  if (operation === "settle") {
    expect(await world.raw.credits.balance(world.raw.credits.store.handle, "bob"), label).toEqual({
      available: 80,
      reserved: 0,
    });
    const claims = await world.raw.claims.list(world.raw.claims.store.handle);
    expect(
      claims.map((c) => c.status),
      label,
    ).toEqual(["completed"]);
  }
  expect(await world.violations(), label).toEqual([]);
}

async function explore(
  flavour: Flavour,
  operation: Operation,
): Promise<{ points: number; outcomes: Record<string, number> }> {
  const dry = await flavour.setup();
  await prepare(dry, operation);
  const start = dry.boundaries.length;
  (await run(dry, operation, "op-1"))._unsafeUnwrap();
  const points = dry.boundaries.length - start;
  const plan = dry.boundaries.slice(start);
  await dry.close();
  const outcomes: Record<string, number> = {};
  for (let i = 1; i <= points; i++) {
    const world = await flavour.setup();
    try {
      await prepare(world, operation);
      world.crashAt = world.boundaries.length + i;
      const label = `${operation} crash point ${i} of ${points}`;
      await run(world, operation, "op-1");
      expect(
        world.crashed,
        `${label} was not reached; the dry run passed ${plan.join(", ")}; this run ${world.boundaries.join(", ")}`,
      ).toBe(true);
      const reconciled = await world.reconcile();
      expect(await world.violations(), `${label}: after recovery`).toEqual([]);
      const outcome = reconciled.recovery.sagas[0]?.outcome ?? "nothing to recover";
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      // The caller retries with the same id: it resumes, returns the recorded outcome, or starts over.
      const retried = await run(world, operation, "op-1");
      if (retried.isErr()) {
        expect(["step_failed", "cancelled"], `${label}: ${retried.error.message}`).toContain(
          retried.error.code,
        );
        (await run(world, operation, "op-2"))._unsafeUnwrap();
      }
      await expectDone(world, operation, label);
    } finally {
      await world.close();
    }
  }
  return { points, outcomes };
}

/**
 * A crash at every boundary of create, claim and settle on one store flavour, then recovery and the
 * caller's retry; every invariant holds after each. crash.test.ts runs it on every flavour.
 */
export function bountyCrashPoints(flavour: Flavour): void {
  describe(`crash at every boundary of each bounty operation on ${flavour.name}`, () => {
    for (const operation of ["create", "claim", "settle"] as const) {
      it(`${operation}: recovery then a retry always converges, with every invariant holding`, async () => {
        const { points, outcomes } = await explore(flavour, operation);
        console.log(
          `bounty ${operation} on ${flavour.name}: ${points} crash points, recovery outcomes ${JSON.stringify(outcomes)}`,
        );
        // Floors that catch an enumeration that collapsed; a saga whose steps all co-commit with
        // the log has the fewest boundaries (create on one database: 4).
        const floor = { create: 4, claim: 8, settle: 16 }[operation];
        expect(points).toBeGreaterThanOrEqual(floor);
        expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(points);
      });
    }
  });
}
