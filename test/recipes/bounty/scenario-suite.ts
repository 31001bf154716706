import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorCode, StoreError } from "../../../src/index.js";
import { type BountyWorld, coCommittedPorts, type Flavour, type PortName } from "./harness.js";

const DAY = 86_400_000;

/**
 * The SCENARIOS.md bounty suite on one store flavour: faults before and after each port's effect
 * (post-commit failures and lost responses), crashes between steps with recovery, and the recipe's
 * invariants after every case. scenarios.test.ts runs it on every flavour; the runtime matrix runs
 * it on Bun (grove: bun:sqlite and the HTTP document store).
 */
export function bountyScenarios(flavour: Flavour): void {
  describe(`bounty scenarios on ${flavour.name}`, () => {
    let world: BountyWorld;
    beforeEach(async () => {
      world = await flavour.setup();
    });
    afterEach(async () => {
      await world.close();
    });

    const h = {
      bounties: () => world.raw.bounties.store.handle,
      credits: () => world.raw.credits.store.handle,
      claims: () => world.raw.claims.store.handle,
    };
    const balance = (agent: string) => world.raw.credits.balance(h.credits(), agent);
    const bounty = (id: string) => world.raw.bounties.get(h.bounties(), id);
    const create = (bountyId = "b-1", amount = 30) =>
      world.run(
        world.runner().run(world.sagas.create, {
          bountyId,
          title: "Fix the parser",
          amount,
          creator: "alice",
          deadline: world.clock.now() + DAY,
        }),
      );
    const claim = (bountyId = "b-1", agentId = "bob") =>
      world.run(world.runner().run(world.sagas.claim, { bountyId, agentId }));
    const settle = (bountyId = "b-1", agentId = "bob", contributionId = "c-1", sagaId?: string) =>
      world.run(
        world
          .runner()
          .run(world.sagas.settle, { bountyId, agentId, contributionId }, sagaId ? { sagaId } : {}),
      );
    const expectClean = async (afterRecovery = true) =>
      expect(await world.violations(afterRecovery)).toEqual([]);
    const saga = flavour.strategy === "saga";
    /** Whether steps on `port` commit in one transaction with their log records. */
    const coCommitted = (port: PortName) => coCommittedPorts(flavour).includes(port);
    /** A write whose response was lost is found by its step's probe, or in one transaction by the log. */
    const landed = (port: PortName) =>
      coCommitted(port)
        ? { status: "committed", committedVia: "execute", strategy: "co_committed" }
        : { status: "committed", committedVia: "probe", strategy: "saga" };
    /**
     * With a secondary index, a `post` fault on a bounty write left `stale` index entries behind
     * (I8): asserts them, then that one recovery pass repairs exactly those. A no-op otherwise.
     */
    const expectIndexRepaired = async (stale: number) => {
      if (!flavour.secondaryIndex) return;
      expect(
        await world.raw.bounties.indexDrift(h.bounties()),
        "the index write after the document must have failed",
      ).toHaveLength(stale);
      expect((await world.violations()).map((v) => v.invariant)).toEqual(Array(stale).fill("I8"));
      expect(await world.violations(false), "a stale index is legitimate until recovery").toEqual(
        [],
      );
      expect((await world.reconcile()).indexesRepaired).toBe(stale);
      expect(await world.raw.bounties.indexDrift(h.bounties())).toEqual([]);
    };
    const claimStatuses = async () =>
      (await world.raw.claims.list(h.claims())).map((c) => c.status);
    const heldReservations = async () =>
      (await world.raw.credits.list(h.credits())).filter((r) => r.status === "held");

    describe("create", () => {
      it("reserve fails pre: no bounty, balance unchanged, the error is returned", async () => {
        const fault = world.fault({ port: "credits", method: "reserve", when: "pre" });
        const result = await create();
        expect(fault.fired()).toBe(1);
        expect(result._unsafeUnwrapErr().code).toBe(ErrorCode.StepFailed);
        expect(await bounty("b-1")).toBeUndefined();
        expect(await balance("alice")).toEqual({ available: 100, reserved: 0 });
        await expectClean();
      });

      it("reserve post: the response is lost, the probe finds the hold, nothing is held twice", async () => {
        const fault = world.fault({ port: "credits", method: "reserve", when: "post" });
        const report = (await create())._unsafeUnwrap();
        expect(fault.fired()).toBe(1);
        expect(report.steps[0]).toMatchObject({ status: "committed", attempts: 1 });
        expect(await balance("alice")).toEqual({ available: 70, reserved: 30 });
        expect((await bounty("b-1"))?.status).toBe("open");
        await expectClean();
      });

      it("reserve post and then the saga gives up: the reservation is voided", async () => {
        world.fault({ port: "credits", method: "reserve", when: "post" });
        world.fault({ port: "bounties", method: "create", when: "pre" });
        const error = (await create())._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.StepFailed);
        expect(await balance("alice")).toEqual({ available: 100, reserved: 0 });
        expect(await heldReservations()).toEqual([]);
        // Separate writes leave a voided hold behind; one transaction leaves none at all.
        expect((await world.raw.credits.list(h.credits())).map((r) => r.status)).toEqual(
          saga ? ["voided"] : [],
        );
        await expectClean();
      });

      it("createBounty fails pre: no bounty and no live reservation", async () => {
        world.fault({ port: "bounties", method: "create", when: "pre" });
        expect((await create())._unsafeUnwrapErr().code).toBe(ErrorCode.StepFailed);
        expect(await bounty("b-1")).toBeUndefined();
        expect(
          (await world.raw.credits.list(h.credits())).filter((r) => r.status === "held"),
        ).toEqual([]);
        await expectClean();
      });

      it("createBounty post: the bounty is open, its reservation live, and nothing is voided", async () => {
        const fault = world.fault({ port: "bounties", method: "create", when: "post" });
        const report = (await create())._unsafeUnwrap();
        expect(fault.fired()).toBe(1);
        expect(report.steps[1]).toMatchObject(landed("bounties"));
        expect((await bounty("b-1"))?.status).toBe("open");
        expect(await balance("alice")).toEqual({ available: 70, reserved: 30 });
        expect((await world.raw.credits.list(h.credits())).map((r) => r.status)).toEqual(["held"]);
        const drift = await world.raw.bounties.indexDrift(h.bounties());
        // The document was written but its status-index marker was not: stale until recovery.
        expect(drift).toHaveLength(flavour.secondaryIndex ? 1 : 0);
        expect((await world.violations()).map((v) => v.invariant)).toEqual(drift.map(() => "I8"));
        const reconciled = await world.reconcile();
        expect(reconciled.recovery.claimed).toBe(0);
        expect(reconciled.indexesRepaired).toBe(drift.length);
        await expectClean();
      });

      it("a crash between reserve and createBounty: recovery voids, never a hold without a bounty", async () => {
        world.crashAt = "after credits.reserve";
        expect((await create()).isErr()).toBe(true);
        expect(world.crashed).toBe(true);
        // A separate write leaves the hold in place until recovery; a co-committed one rolled back.
        expect(await balance("alice")).toEqual(
          coCommitted("credits")
            ? { available: 100, reserved: 0 }
            : { available: 70, reserved: 30 },
        );
        const reconciled = await world.reconcile();
        // A saga whose first transaction rolled back never existed; otherwise recovery voids it.
        expect(reconciled.recovery.counts.compensated).toBe(coCommitted("credits") ? 0 : 1);
        expect(await bounty("b-1")).toBeUndefined();
        expect(await balance("alice")).toEqual({ available: 100, reserved: 0 });
        await expectClean();
      });
    });

    describe("claim", () => {
      beforeEach(async () => {
        (await create())._unsafeUnwrap();
      });

      it("claimBounty fails pre (CAS lost): our claim is released, the bounty unchanged, another agent can claim", async () => {
        world.fault({
          port: "bounties",
          method: "transition",
          when: "pre",
          error: new StoreError("conflict", "version moved"),
        });
        const error = (await claim())._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.StepFailed);
        expect((await bounty("b-1"))?.status).toBe("open");
        expect(await claimStatuses()).toEqual(saga ? ["released"] : []);
        const other = (await claim("b-1", "carol"))._unsafeUnwrap();
        expect(other.status).toBe("completed");
        expect((await bounty("b-1"))?.claimedBy).toBe("carol");
        await expectClean();
      });

      it("claimBounty post: the claim is not released, the bounty is claimed with it, and a retry renews", async () => {
        world.fault({ port: "bounties", method: "transition", when: "post" });
        const report = (await claim())._unsafeUnwrap();
        expect(report.steps[1]).toMatchObject(landed("bounties"));
        const claimed = await bounty("b-1");
        expect(claimed?.status).toBe("claimed");
        expect(claimed?.claimId).toBe(report.outputs.claim.claimId);
        const again = (await claim())._unsafeUnwrap();
        expect(again.outputs.claim).toEqual({
          claimId: report.outputs.claim.claimId,
          renewed: true,
        });
        expect((await world.raw.claims.list(h.claims())).map((c) => c.status)).toEqual(["active"]);
        await expectIndexRepaired(1);
        await expectClean();
      });

      it("a crash after claimOrRenew before claimBounty: the bounty stays open and recovery releases the orphan", async () => {
        world.crashAt = "after claims.claimOrRenew";
        expect((await claim()).isErr()).toBe(true);
        expect(world.crashed).toBe(true);
        expect(await world.violations(false)).toEqual([]);
        await world.reconcile();
        expect((await bounty("b-1"))?.status).toBe("open");
        // A separate claim write is left as an orphan for recovery; a co-committed one rolled back.
        expect(await claimStatuses()).toEqual(coCommitted("claims") ? [] : ["released"]);
        await expectClean();
      });
    });

    describe("settle", () => {
      beforeEach(async () => {
        (await create())._unsafeUnwrap();
        (await claim())._unsafeUnwrap();
      });

      it("a contribution failing the criteria changes nothing and captures nothing", async () => {
        const strict = (await import("../../../src/recipes/bounty/index.js")).bountySagas(
          world.ports,
          {
            clock: world.clock,
            verifyContribution: async (_b, id) =>
              id === "c-good" ? undefined : "it does not pass the bounty's tests",
          },
        );
        const error = (
          await world.run(
            world
              .runner()
              .run(strict.settle, { bountyId: "b-1", agentId: "bob", contributionId: "c-bad" }),
          )
        )._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.StepFailed);
        expect(error.message).toContain("does not fulfil");
        expect((await bounty("b-1"))?.status).toBe("claimed");
        expect(world.calls.get("credits.capture") ?? 0).toBe(0);
        await expectClean();
      });

      it("completes: captured to the worker, settled, the claim completed", async () => {
        const report = (await settle())._unsafeUnwrap();
        expect(report.status).toBe("completed");
        const ports: PortName[] = ["bounties", "credits", "bounties", "bounties", "claims"];
        expect(
          report.steps.map((step) => step.strategy),
          "each step must run with the strategy its flavour promises",
        ).toEqual(ports.map((port) => (coCommitted(port) ? "co_committed" : "saga")));
        expect((await bounty("b-1"))?.status).toBe("settled");
        expect(await balance("alice")).toEqual({ available: 70, reserved: 0 });
        expect(await balance("bob")).toEqual({ available: 80, reserved: 0 });
        expect((await world.raw.claims.list(h.claims())).map((c) => c.status)).toEqual([
          "completed",
        ]);
        await expectClean();
      });

      it("beginSettlement fails pre: the bounty stays claimed and nothing is captured", async () => {
        world.fault({ port: "bounties", method: "transition", when: "pre" });
        expect((await settle())._unsafeUnwrapErr().code).toBe(ErrorCode.StepFailed);
        expect((await bounty("b-1"))?.status).toBe("claimed");
        expect(world.calls.get("credits.capture") ?? 0).toBe(0);
        await expectClean();
      });

      it("beginSettlement post: a retry resumes from pending_settlement with the contribution frozen, one capture", async () => {
        world.fault({ port: "bounties", method: "transition", when: "post" });
        if (saga) {
          world.fault({
            port: "credits",
            method: "capture",
            when: "pre",
            error: new StoreError("transient", "payments busy"),
            times: 5,
          });
          const first = (await settle("b-1", "bob", "c-1", "settle-1"))._unsafeUnwrapErr();
          expect(first.code).toBe(ErrorCode.Incomplete);
          expect((await bounty("b-1"))?.status).toBe("pending_settlement");
          const other = (await settle("b-1", "bob", "c-other"))._unsafeUnwrapErr();
          expect(other.message).toContain("being settled with contribution c-1");
          const resumed = (await settle("b-1", "bob", "c-1", "settle-1"))._unsafeUnwrap();
          expect(resumed.status).toBe("completed");
        } else {
          // One transaction: the begin's commit landed with everything after it; the log says so.
          const report = (await settle("b-1", "bob", "c-1", "settle-1"))._unsafeUnwrap();
          expect(report.steps[0]).toMatchObject({ status: "committed", strategy: "co_committed" });
          const other = (await settle("b-1", "bob", "c-other"))._unsafeUnwrapErr();
          expect(other.message).toContain("being settled with contribution c-1");
        }
        expect((await bounty("b-1"))?.status).toBe("settled");
        expect(world.calls.get("credits.capture")).toBe(saga ? 6 : 1);
        expect(await balance("bob")).toEqual({ available: 80, reserved: 0 });
        await expectClean();
      });

      it("capture fails pre: never settled before capture; recovery captures and settles", async () => {
        world.fault({
          port: "credits",
          method: "capture",
          when: "pre",
          error: new StoreError("transient", "payments down"),
          times: 5,
        });
        expect((await settle())._unsafeUnwrapErr().code).toBe(ErrorCode.Incomplete);
        // With separate writes the bounty waits in pending_settlement; in one transaction nothing moved.
        expect((await bounty("b-1"))?.status).toBe(saga ? "pending_settlement" : "claimed");
        await expectClean(false);
        const reconciled = await world.reconcile();
        expect(reconciled.recovery.counts.completed).toBe(1);
        expect((await bounty("b-1"))?.status).toBe("settled");
        expect(await balance("bob")).toEqual({ available: 80, reserved: 0 });
        await expectClean();
      });

      it("a reservation voided before settlement ends needs_attention naming the bounty, never settled", async () => {
        const b = await bounty("b-1");
        await world.raw.credits.void(h.credits(), b?.reservationId as string);
        const error = (await settle())._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.NeedsAttention);
        if (error.code === ErrorCode.NeedsAttention) expect(error.reason).toBe("escalated");
        expect(error.message).toContain("bounty b-1");
        expect((await bounty("b-1"))?.status).toBe("claimed");
        expect(world.calls.get("credits.capture") ?? 0).toBe(0);
      });

      it("capture failing permanently mid-settlement ends needs_attention naming the bounty, never settled", async () => {
        const b = await bounty("b-1");
        const voidEscrow = async () => {
          await world.raw.credits.void(h.credits(), b?.reservationId as string);
        };
        if (saga && coCommitted("credits")) {
          // No other writer can act inside a transaction of a single-writer database, so the
          // escrow is voided just before the capture's transaction: as the begin step's write
          // returns (its response lost).
          world.fault({
            port: "bounties",
            method: "transition",
            when: "post",
            meanwhile: voidEscrow,
          });
        } else if (saga) {
          // The escrow is voided by someone else just as the capture is sent.
          world.fault({
            port: "credits",
            method: "capture",
            when: "pre",
            meanwhile: voidEscrow,
            error: new StoreError("not_committed", "reservation voided"),
          });
        } else {
          // One transaction leaves no moment for another writer between begin and capture: the
          // capture is simply refused for good, and the whole settlement with it.
          world.fault({
            port: "credits",
            method: "capture",
            when: "pre",
            error: new StoreError("not_committed", "the payments service refused the capture"),
          });
        }
        const error = (await settle())._unsafeUnwrapErr();
        expect(error.code).toBe(saga ? ErrorCode.NeedsAttention : ErrorCode.StepFailed);
        expect(error.message).toContain(saga ? "bounty b-1" : "refused the capture");
        const reservation = await world.raw.credits.get(h.credits(), b?.reservationId as string);
        expect(reservation?.status).toBe(saga ? "voided" : "held");
        expect((await bounty("b-1"))?.status).toBe(saga ? "pending_settlement" : "claimed");
        expect(await balance("bob")).toEqual({ available: 50, reserved: 0 });
      });

      it("capture post: the retry is an idempotent no-op; one capture", async () => {
        world.fault({ port: "credits", method: "capture", when: "post" });
        const report = (await settle())._unsafeUnwrap();
        expect(report.steps[1]).toMatchObject(landed("credits"));
        expect(await balance("bob")).toEqual({ available: 80, reserved: 0 });
        expect(await balance("alice")).toEqual({ available: 70, reserved: 0 });
        await expectClean();
      });

      for (const when of ["pre", "post"] as const) {
        it(`completeBounty and settleBounty failing ${when} after capture converge to settled`, async () => {
          const error = when === "pre" ? new StoreError("transient", "busy") : undefined;
          // begin is transition #1; complete is #2 and settle #3 (each fails once, then its retry runs).
          world.fault({
            port: "bounties",
            method: "transition",
            when,
            ...(error ? { error } : {}),
            times: 1,
          });
          const calls = () => world.calls.get("bounties.transition") ?? 0;
          const settled = await settle();
          expect(calls()).toBeGreaterThanOrEqual(3);
          if (settled.isErr()) await world.reconcile();
          expect((await bounty("b-1"))?.status).toBe("settled");
          expect(await balance("bob")).toEqual({ available: 80, reserved: 0 });
          await expectClean();
        });
      }
    });

    if (flavour.strategy === "saga") {
      it("a compensation that fails is recorded, retried by recovery, never applied twice; the caller gets the original error", async () => {
        world.fault({
          port: "bounties",
          method: "create",
          when: "pre",
          error: new StoreError("not_committed", "duplicate title"),
        });
        world.fault({
          port: "credits",
          method: "void",
          when: "pre",
          error: new StoreError("transient", "ledger busy"),
          times: 3,
        });
        const error = (await create())._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.StepFailed);
        if (error.code === ErrorCode.StepFailed) {
          expect(error.step).toBe("open");
          expect(error.message).toContain("open");
          expect(error.report.status).toBe("compensating");
        }
        expect(await balance("alice")).toEqual({ available: 70, reserved: 30 });
        const reconciled = await world.reconcile();
        expect(reconciled.recovery.counts.compensated).toBe(1);
        expect(await balance("alice")).toEqual({ available: 100, reserved: 0 });
        const snapshot =
          (await world.log.load((await world.log.list())[0]?.sagaId as string))?.entries ?? [];
        expect(snapshot.filter((e) => e.type === "compensated")).toHaveLength(1);
        expect(snapshot.filter((e) => e.type === "compensation_failed")).toHaveLength(3);
        await expectClean();
      });
    } else {
      it("a failure anywhere in a co-committed operation leaves nothing, so nothing needs compensating", async () => {
        world.fault({
          port: "bounties",
          method: "create",
          when: "pre",
          error: new StoreError("not_committed", "duplicate title"),
        });
        const error = (await create())._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.StepFailed);
        if (error.code === ErrorCode.StepFailed) expect(error.report.status).toBe("compensated");
        expect(world.calls.get("credits.void") ?? 0).toBe(0);
        expect(await world.raw.credits.list(h.credits())).toEqual([]);
        expect(await balance("alice")).toEqual({ available: 100, reserved: 0 });
        await expectClean();
      });
    }

    it("expire and cancel cannot race a settlement past its pivot", async () => {
      (await create())._unsafeUnwrap();
      (await claim())._unsafeUnwrap();
      (await settle())._unsafeUnwrap();
      world.clock.advance(2 * DAY);
      const expire = (
        await world.run(world.runner().run(world.sagas.expire, { bountyId: "b-1" }))
      )._unsafeUnwrapErr();
      expect(expire.code).toBe(ErrorCode.StepFailed);
      const cancel = (
        await world.run(world.runner().run(world.sagas.cancel, { bountyId: "b-1" }))
      )._unsafeUnwrapErr();
      expect(cancel.code).toBe(ErrorCode.StepFailed);
      expect((await bounty("b-1"))?.status).toBe("settled");
      await expectClean();
    });

    it("expiring a claimed bounty voids its escrow and releases the claim", async () => {
      (await create())._unsafeUnwrap();
      (await claim())._unsafeUnwrap();
      world.clock.advance(2 * DAY);
      (
        await world.run(world.runner().run(world.sagas.expire, { bountyId: "b-1" }))
      )._unsafeUnwrap();
      expect((await bounty("b-1"))?.status).toBe("expired");
      expect(await balance("alice")).toEqual({ available: 100, reserved: 0 });
      expect((await world.raw.claims.list(h.claims())).map((c) => c.status)).toEqual(["released"]);
      const late = (await settle())._unsafeUnwrapErr();
      expect(late.code).toBe(ErrorCode.StepFailed);
      await expectClean();
    });
  });
}
