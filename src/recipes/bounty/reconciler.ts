import { ResultAsync } from "neverthrow";
import {
  createRecoverer,
  ErrorCode,
  type LogFailedError,
  lockstepError,
  type RecoveryReport,
  type Runner,
  TERMINAL_STATUSES,
} from "../../index.js";
import type { BountySagas } from "./operations.js";
import type { BountyPorts } from "./ports.js";

/** What one reconciliation pass did. */
export interface ReconcileReport {
  /** The recovery pass over the saga log. */
  readonly recovery: RecoveryReport;
  /** Secondary-index entries rewritten from their authoritative documents. */
  readonly indexesRepaired: number;
  /** Active claims no bounty points at whose saga had finished, released. */
  readonly orphanClaimsReleased: number;
}

/**
 * Finishes or unwinds whatever a crash left behind: one recovery pass over the bounty sagas, then
 * repairs the bounty store's secondary indexes, then releases orphan claims — active claims no
 * bounty points at, whose claiming saga has ended (a claim whose saga is still in flight is left to
 * that saga).
 */
export function reconcileBounties(options: {
  readonly runner: Runner;
  readonly sagas: BountySagas;
  readonly ports: BountyPorts;
  /** The most sagas one pass recovers. @default 1000 */
  readonly limit?: number;
}): ResultAsync<ReconcileReport, LogFailedError> {
  const { runner, sagas, ports } = options;
  const recoverer = createRecoverer({ runner, sagas: Object.values(sagas) });
  const work = async (): Promise<ReconcileReport> => {
    const pass = await recoverer.recover({ limit: options.limit ?? 1_000 });
    if (pass.isErr()) throw pass.error;
    const indexesRepaired = await ports.bounties.repairIndexes(ports.bounties.store.handle);
    const bounties = new Map(
      (await ports.bounties.list(ports.bounties.store.handle)).map((b) => [b.bountyId, b]),
    );
    let orphanClaimsReleased = 0;
    for (const claim of await ports.claims.list(ports.claims.store.handle)) {
      if (claim.status !== "active" || !claim.targetRef.startsWith("bounty:")) continue;
      const bounty = bounties.get(claim.targetRef.slice("bounty:".length));
      if (
        bounty?.claimId === claim.claimId &&
        ["claimed", "pending_settlement"].includes(bounty.status)
      )
        continue;
      // Claim ids are the claiming step's key, `<sagaId>:claim`: the saga says whether it is done.
      const sagaId = claim.claimId.endsWith(":claim")
        ? claim.claimId.slice(0, -":claim".length)
        : undefined;
      const saga =
        sagaId === undefined ? undefined : await runner.log.load(sagaId).catch(() => undefined);
      if (saga !== undefined && !TERMINAL_STATUSES.includes(saga.record.status)) continue;
      if (await ports.claims.release(ports.claims.store.handle, claim.claimId))
        orphanClaimsReleased++;
    }
    return { recovery: pass.value, indexesRepaired, orphanClaimsReleased };
  };
  return ResultAsync.fromPromise(work(), (error) =>
    lockstepError({
      code: ErrorCode.LogFailed,
      message: `Reconciling bounties failed: ${error instanceof Error ? error.message : String(error)}.`,
      cause: error,
    }),
  );
}
