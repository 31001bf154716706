import { type Clock, systemClock } from "../../index.js";
import type { Bounty, Reservation } from "./model.js";
import type { BountyPorts } from "./ports.js";

/** Options of {@link bountySagas}. */
export interface BountySagaOptions {
  /** The clock for timestamps and deadlines. @default the system clock */
  readonly clock?: Clock;
  /**
   * How long a claim's lease lasts, in milliseconds, when the claimer does not say.
   * @default 3_600_000
   */
  readonly claimLeaseMs?: number;
  /**
   * How long past the bounty's deadline its reservation stays held, in milliseconds, so the hold
   * never lapses under a live bounty.
   * @default 86_400_000
   */
  readonly reservationGraceMs?: number;
  /**
   * Decides whether a contribution fulfils a bounty; resolves to a reason to refuse it, or
   * `undefined` to accept. Runs before settlement writes anything.
   * @default accepts every contribution
   */
  readonly verifyContribution?: (
    bounty: Bounty,
    contributionId: string,
    agentId: string,
  ) => Promise<string | undefined>;
}

/**
 * What each bounty saga is defined from: the ports, the options with their defaults applied, and
 * the reads a step makes of a port that may live on another store than the step's.
 */
export interface BountySagaContext extends BountyPorts {
  readonly clock: Clock;
  readonly claimLeaseMs: number;
  readonly graceMs: number;
  readonly verify: NonNullable<BountySagaOptions["verifyContribution"]>;
  /**
   * Reads a bounty from a step on `stepStore`: through the step's own handle when the bounties live
   * in that same database, so a step inside a transaction reads within it instead of holding its
   * connection while it waits for a second one (with as many concurrent transactions as a pool has
   * connections, that wait never ends); through the bounty store's root handle otherwise.
   */
  readBounty(
    stepStore: { readonly id: string },
    handle: unknown,
    bountyId: string,
  ): Promise<Bounty | undefined>;
  /** Reads a reservation from a step on `stepStore`; see `readBounty`. */
  readReservation(
    stepStore: { readonly id: string },
    handle: unknown,
    id: string,
  ): Promise<Reservation | undefined>;
}

/**
 * The kind of the steps that finish a bounty saga once its pivot has committed: retriable, and
 * declared idempotent because each is by construction (a second call finds the work done and
 * changes nothing), so a crash re-executes it by its key instead of asking a probe.
 */
export const IDEMPOTENT_RETRIABLE = { kind: "retriable", idempotent: true } as const;

/** Applies the options' defaults and binds the cross-store reads to the ports. */
export function bountySagaContext(
  ports: BountyPorts,
  options: BountySagaOptions,
): BountySagaContext {
  const { bounties, claims, credits } = ports;
  return {
    bounties,
    claims,
    credits,
    clock: options.clock ?? systemClock,
    claimLeaseMs: options.claimLeaseMs ?? 3_600_000,
    graceMs: options.reservationGraceMs ?? 86_400_000,
    verify: options.verifyContribution ?? (async () => undefined),
    readBounty: (stepStore, handle, bountyId) =>
      bounties.get(bounties.store.id === stepStore.id ? handle : bounties.store.handle, bountyId),
    readReservation: (stepStore, handle, id) =>
      credits.get(credits.store.id === stepStore.id ? handle : credits.store.handle, id),
  };
}
