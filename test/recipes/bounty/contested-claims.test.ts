import { describe, expect, it } from "vitest";
import { postgresSagaLog, postgresStore } from "../../../src/adapters/postgres/index.js";
import { createRunner, ErrorCode, SagaStatus } from "../../../src/index.js";
import {
  bountySagas,
  bountyTarget,
  checkBountyInvariants,
  createBountyTables,
  reconcileBounties,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
} from "../../../src/recipes/bounty/index.js";
import { postgresDialect } from "../../../src/recipes/sql-client.js";
import { openSchema } from "../../adapters/postgres/pg-test.js";

const AGENTS = 50;
const DAY = 86_400_000;
const BOUNTY = "contested";

describe("contested claims on Postgres", () => {
  it(`${AGENTS} agents claim one bounty at once, each with its own runner: exactly one wins, and one recovery pass leaves no orphan claim and no unbacked escrow`, async () => {
    // pg's default pool of 10 connections, on purpose: fewer connections than contenders is where a
    // step that holds its transaction's connection while waiting for a second one would hang; the
    // connection timeout turns such a hang into failed sagas this test reports.
    const db = await openSchema({ max: 10, connectionTimeoutMillis: 3_000 });
    try {
      const store = postgresStore(db.pool);
      const log = postgresSagaLog(db.pool, { schema: db.schema });
      await createBountyTables(postgresDialect, store.handle);
      const credits = sqlCredits(store, postgresDialect);
      await credits.seed(store.handle, { alice: 100 });
      const ports = {
        bounties: sqlBountyStore(store, postgresDialect),
        claims: sqlClaimStore(store, postgresDialect),
        credits,
      };
      const sagas = bountySagas(ports);
      (
        await createRunner({ log, owner: "creator" }).run(sagas.create, {
          bountyId: BOUNTY,
          title: "Fix the parser",
          amount: 40,
          creator: "alice",
          deadline: Date.now() + DAY,
        })
      )._unsafeUnwrap();

      const agents = Array.from(
        { length: AGENTS },
        (_, i) => `agent-${String(i).padStart(2, "0")}`,
      );
      const results = await Promise.all(
        agents.map((agentId) =>
          createRunner({ log, owner: `runner-${agentId}` }).run(sagas.claim, {
            bountyId: BOUNTY,
            agentId,
          }),
        ),
      );
      const winners = results.flatMap((r, i) =>
        r.isOk() ? [{ agentId: agents[i], report: r.value }] : [],
      );
      const losers = results.flatMap((r) => (r.isErr() ? [r.error] : []));
      console.log(
        `contested claims on Postgres: ${AGENTS} agents, ${winners.length} winner, ${losers.length} losers (${[...new Set(losers.map((e) => e.code))].join(", ")})`,
      );
      expect(winners, "two agents must never both win one bounty").toHaveLength(1);
      expect(losers).toHaveLength(AGENTS - 1);
      // Every loser learns it lost: nothing is left in doubt or half-done for recovery to guess at.
      for (const error of losers) expect(error.code).toBe(ErrorCode.StepFailed);

      const winner = winners[0] as (typeof winners)[number];
      const bounty = await ports.bounties.get(store.handle, BOUNTY);
      expect(bounty).toMatchObject({
        status: "claimed",
        claimedBy: winner.agentId,
        claimId: winner.report.outputs.claim.claimId,
      });

      const reconciled = (
        await reconcileBounties({
          runner: createRunner({ log, owner: "reconciler" }),
          sagas,
          ports,
        })
      )._unsafeUnwrap();
      expect(reconciled.recovery.claimed, "every claim saga had already finished").toBe(0);
      expect(reconciled.orphanClaimsReleased).toBe(0);

      const claims = await ports.claims.list(store.handle);
      expect(claims, "each loser's claim rolled back with its transaction").toHaveLength(1);
      expect(
        claims.filter((c) => c.status === "active"),
        "no orphan claim (I4): the only active claim is the one the bounty points at",
      ).toEqual([
        expect.objectContaining({
          claimId: winner.report.outputs.claim.claimId,
          targetRef: bountyTarget(BOUNTY),
          agentId: winner.agentId,
        }),
      ]);
      const live = new Set(
        (await ports.bounties.list(store.handle))
          .filter((b) => ["open", "claimed", "pending_settlement"].includes(b.status))
          .map((b) => b.reservationId),
      );
      const held = (await credits.list(store.handle)).filter((r) => r.status === "held");
      expect(held, "one escrow, held for the live bounty").toHaveLength(1);
      expect(
        held.filter((r) => !live.has(r.reservationId)),
        "no held escrow without a live bounty",
      ).toEqual([]);
      expect(await credits.balance(store.handle, "alice")).toEqual({ available: 60, reserved: 40 });
      expect(await checkBountyInvariants(ports, { expectedTotal: 100 })).toEqual([]);

      const sagasRun = await log.list();
      const claimSagas = sagasRun.filter((s) => s.definition.name === "bounty.claim");
      expect(claimSagas).toHaveLength(AGENTS);
      expect(claimSagas.filter((s) => s.status === SagaStatus.Completed)).toHaveLength(1);
    } finally {
      await db.close();
    }
  });
});
