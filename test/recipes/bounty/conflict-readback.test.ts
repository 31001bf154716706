import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, StoreError } from "../../../src/index.js";
import { type BountyWorld, memoryFlavour } from "./harness.js";

const DAY = 86_400_000;

describe("a settlement retried under a new saga id while the first one is being finished", () => {
  let world: BountyWorld;
  beforeEach(async () => {
    world = await memoryFlavour.setup();
  });
  afterEach(async () => {
    await world.close();
  });

  const bounty = () => world.raw.bounties.get(world.raw.bounties.store.handle, "b-1");
  const settle = (sagaId: string) =>
    world.run(
      world
        .runner()
        .run(
          world.sagas.settle,
          { bountyId: "b-1", agentId: "bob", contributionId: "c-1" },
          { sagaId },
        ),
    );

  it("reads back at once when its compare-and-set loses to the same change, and completes", async () => {
    (
      await world.run(
        world.runner().run(world.sagas.create, {
          bountyId: "b-1",
          title: "Fix the parser",
          amount: 30,
          creator: "alice",
          deadline: world.clock.now() + DAY,
        }),
      )
    )._unsafeUnwrap();
    (
      await world.run(world.runner().run(world.sagas.claim, { bountyId: "b-1", agentId: "bob" }))
    )._unsafeUnwrap();
    // The first settlement stops before its capture: the bounty waits in pending_settlement.
    world.fault({
      port: "credits",
      method: "capture",
      when: "pre",
      error: new StoreError("transient", "payments busy"),
      times: 5,
    });
    expect((await settle("settle-1"))._unsafeUnwrapErr().code).toBe(ErrorCode.Incomplete);
    expect((await bounty())?.status).toBe("pending_settlement");

    // The client retries under a new saga id. Its capture goes through; as its `complete` step
    // writes, the reconciler finishing the first settlement completes the bounty first, so the
    // compare-and-set of the retry loses: the same change was already made.
    world.fault({
      port: "bounties",
      method: "transition",
      when: "pre",
      error: new StoreError("conflict", 'Bounty "b-1" is completed, not pending_settlement.'),
      meanwhile: async () => {
        await world.raw.bounties.transition(world.raw.bounties.store.handle, "b-1", {
          from: ["pending_settlement"],
          to: "completed",
          where: { fulfilledByContributionId: "c-1" },
          now: world.clock.now(),
        });
      },
    });
    const report = (await settle("settle-2"))._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(report.steps.find((s) => s.name === "complete")).toMatchObject({
      status: "committed",
      committedVia: "probe",
    });
    expect((await bounty())?.status).toBe("settled");

    // The first settlement is finished by recovery, and nothing is paid twice.
    await world.reconcile();
    expect(await world.raw.credits.balance(world.raw.credits.store.handle, "bob")).toEqual({
      available: 80,
      reserved: 0,
    });
    expect(await world.violations()).toEqual([]);
  });
});
