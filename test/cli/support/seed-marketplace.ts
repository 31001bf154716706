import { newSagaId, stepKey } from "../../../src/core/ids.js";
import { createRunner } from "../../../src/core/runner.js";
import { SagaStatus, SCHEMA_VERSION } from "../../../src/model/records.js";
import { type Marketplace, openMarketplace } from "../fixtures/marketplace.js";

/** What {@link seedMarketplace} left in the log, by what happened to each saga. */
export interface SeededSagas {
  /** A bounty.create that completed. */
  readonly completed: string;
  /** A bounty.claim of that bounty that completed. */
  readonly claimed: string;
  /** A bounty.create refused at its first step (not enough credits): compensated. */
  readonly refused: string;
  /**
   * A bounty.create that "crashed" right after its reservation committed in the ledger, before the
   * outcome was logged: running, lease lapsed, `reserve` unknown in the log.
   */
  readonly crashedAfterReserve: string;
  /** A bounty.create that "crashed" after logging reserve's intent, before reserving: nothing landed. */
  readonly crashedBeforeReserve: string;
  /** A saga a person has to look at. */
  readonly needsAttention: string;
}

export const BALANCES = { alice: 1_000, bob: 50 } as const;

/**
 * Fills a marketplace in `dir` with sagas in every state the CLI reports on: real runs through the
 * runner, and crashes written the way a runner that died would have left them (intent logged, lease
 * lapsed), with the ledger changed or not behind them.
 */
export async function seedMarketplace(dir: string): Promise<SeededSagas> {
  const world = await openMarketplace(dir);
  try {
    return await seed(world);
  } finally {
    world.close();
  }
}

async function seed(world: Marketplace): Promise<SeededSagas> {
  await world.credits.seed(world.credits.store.handle, BALANCES);
  const runner = createRunner({ log: world.log });
  const deadline = Date.now() + 86_400_000;
  const created = await runner.run(world.sagas.create, {
    title: "Fix the flaky test",
    amount: 100,
    creator: "alice",
    deadline,
  });
  if (created.isErr()) throw new Error(`seed: create failed: ${created.error.message}`);
  const bountyId = created.value.outputs.open.bountyId;
  const claimed = await runner.run(world.sagas.claim, { bountyId, agentId: "bob" });
  if (claimed.isErr()) throw new Error(`seed: claim failed: ${claimed.error.message}`);
  const refused = await runner.run(world.sagas.create, {
    title: "Too expensive",
    amount: 10_000,
    creator: "bob",
    deadline,
  });
  if (refused.isOk() || !("sagaId" in refused.error) || refused.error.sagaId === undefined) {
    throw new Error("seed: the refused create did not fail as a saga");
  }
  const refusedId = refused.error.sagaId;

  const crashedAfterReserve = await leaveCrashedCreate(world, true);
  const crashedBeforeReserve = await leaveCrashedCreate(world, false);

  const needsAttention = newSagaId();
  const now = Date.now();
  await world.log.create({
    schemaVersion: SCHEMA_VERSION,
    sagaId: needsAttention,
    definition: world.sagas.cancel.definition as never,
    input: { bountyId: "bounty-gone" },
    status: SagaStatus.Running,
    attention: null,
    fencingToken: 1,
    leaseOwner: "runner-1",
    leaseExpiresAt: now + 30_000,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: now,
    updatedAt: now,
  });
  await world.log.write(needsAttention, 1, {
    status: SagaStatus.NeedsAttention,
    attention: {
      reason: "escalated",
      step: "close",
      message: "bounty bounty-gone was deleted by hand while it held a reservation",
    },
    releaseLease: true,
    now,
  });
  return {
    completed: created.value.sagaId,
    claimed: claimed.value.sagaId,
    refused: refusedId,
    crashedAfterReserve,
    crashedBeforeReserve,
    needsAttention,
  };
}

/**
 * Leaves a bounty.create in the log the way a runner that died would have: reserve's intent
 * logged, the lease lapsed, and (when `reserveLanded`) alice's reservation made in the ledger behind
 * it. Returns its saga id.
 */
export async function leaveCrashedCreate(
  world: Marketplace,
  reserveLanded: boolean,
): Promise<string> {
  const deadline = Date.now() + 86_400_000;
  const sagaId = newSagaId();
  const input = { title: "Crashed", amount: 10, creator: "alice", deadline };
  const now = Date.now();
  await world.log.create({
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: world.sagas.create.definition as never,
    input,
    status: SagaStatus.Running,
    attention: null,
    fencingToken: 1,
    leaseOwner: "runner-that-died",
    leaseExpiresAt: now - 60_000,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: now - 120_000,
    updatedAt: now - 120_000,
  });
  await world.log.write(sagaId, 1, {
    entries: [{ step: "reserve", type: "intent", attempt: 1, at: now - 119_000 }],
    now: now - 119_000,
  });
  if (reserveLanded) {
    await world.credits.reserve(world.credits.store.handle, {
      reservationId: stepKey(sagaId, "reserve"),
      agentId: "alice",
      amount: 10,
      timeoutMs: 86_400_000,
      now,
    });
  }
  return sagaId;
}
