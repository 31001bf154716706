import type { StepStore } from "../../index.js";
import type { Balance, Bounty, BountyStatus, Claim, Reservation } from "./model.js";

/**
 * Why a port refused a write: `conflict` — a compare-and-set lost or the state forbids it (not
 * applied); `rejected` — the request itself is invalid for the current state (not applied). Port
 * implementations throw `StoreError` with kind `conflict` or `not_committed` for these.
 */
export type PortRefusal = "conflict" | "rejected";

/** A compare-and-set transition of one bounty. */
export interface BountyTransition {
  /** The statuses the bounty must be in. */
  readonly from: readonly BountyStatus[];
  /** The status to move to. */
  readonly to: BountyStatus;
  /** The version the bounty must be at, when the caller read it. */
  readonly expectVersion?: number;
  /** Fields that must hold their values (e.g. the claim id a renewal replaces). */
  readonly where?: Partial<
    Pick<Bounty, "claimId" | "claimedBy" | "fulfilledByContributionId" | "reservationId">
  >;
  /** Fields to set; `null` clears one. */
  readonly set?: {
    readonly [K in "claimId" | "claimedBy" | "fulfilledByContributionId"]?: string | null;
  };
  /** The time of the change. */
  readonly now: number;
}

/** Where bounties live. Every method takes the handle the step was given. */
export interface BountyStore<Handle = unknown> {
  /** The lockstep store the bounties live in: its capabilities decide each step's strategy. */
  readonly store: StepStore<Handle>;
  /** A fresh read of one bounty. */
  get(handle: Handle, bountyId: string): Promise<Bounty | undefined>;
  /**
   * Creates a bounty if none has its id. Creating the same bounty again (same id and reservation) is
   * a no-op returning the stored one; another bounty with that id is a conflict.
   */
  create(handle: Handle, bounty: Bounty): Promise<Bounty>;
  /** Applies a transition by compare-and-set; throws a conflict when its conditions do not hold. */
  transition(handle: Handle, bountyId: string, change: BountyTransition): Promise<Bounty>;
  /** Every bounty, for invariant checks and reconciliation. */
  list(handle: Handle): Promise<readonly Bounty[]>;
  /**
   * Re-derives any secondary index from the authoritative documents; returns how many entries it
   * fixed. Stores without a secondary index return 0.
   */
  repairIndexes(handle: Handle): Promise<number>;
  /** Lists index disagreements (invariant I8); empty for stores without a secondary index. */
  indexDrift(handle: Handle): Promise<readonly string[]>;
}

/** What {@link ClaimStore.claimOrRenew} did. */
export interface ClaimOutcome {
  readonly claim: Claim;
  /** `true` when the agent's active claim was extended rather than a claim created. */
  readonly renewed: boolean;
}

/** Where claims live. */
export interface ClaimStore<Handle = unknown> {
  readonly store: StepStore<Handle>;
  /**
   * Creates a claim with `claimId` on `targetRef` for `agentId`, or renews the same agent's active,
   * unexpired claim (returning that claim), or throws a conflict when another agent holds one. Calling
   * it again with the same `claimId` after it created that claim returns it unchanged.
   */
  claimOrRenew(
    handle: Handle,
    request: {
      readonly claimId: string;
      readonly targetRef: string;
      readonly agentId: string;
      readonly leaseMs: number;
      readonly now: number;
    },
  ): Promise<ClaimOutcome>;
  /** A fresh read of one claim. */
  get(handle: Handle, claimId: string): Promise<Claim | undefined>;
  /** Releases an active claim (compare-and-set on `active`); returns whether it did. */
  release(handle: Handle, claimId: string): Promise<boolean>;
  /** Marks a claim completed; idempotent. */
  complete(handle: Handle, claimId: string): Promise<Claim>;
  /** Every claim. */
  list(handle: Handle): Promise<readonly Claim[]>;
}

/** The credits ledger. */
export interface CreditsService<Handle = unknown> {
  readonly store: StepStore<Handle>;
  /** Holds `amount` of `agentId`'s credits; idempotent for the same id and parameters. */
  reserve(
    handle: Handle,
    request: {
      readonly reservationId: string;
      readonly agentId: string;
      readonly amount: number;
      readonly timeoutMs: number;
      readonly now: number;
    },
  ): Promise<Reservation>;
  /**
   * Moves a held reservation to `toAgentId`; idempotent for the same recipient. Throws for another
   * recipient, or for a voided or expired reservation.
   */
  capture(
    handle: Handle,
    request: {
      readonly reservationId: string;
      readonly toAgentId: string;
      readonly idempotencyKey: string;
      readonly now: number;
    },
  ): Promise<Reservation>;
  /** Returns a held reservation's credits; idempotent, and a no-op after capture. */
  void(handle: Handle, reservationId: string): Promise<Reservation>;
  /** A fresh read of one reservation. */
  get(handle: Handle, reservationId: string): Promise<Reservation | undefined>;
  /** Every reservation. */
  list(handle: Handle): Promise<readonly Reservation[]>;
  /** One agent's balance. */
  balance(handle: Handle, agentId: string): Promise<Balance>;
  /** The sum of every agent's available and reserved credits: constant under every operation. */
  total(handle: Handle): Promise<number>;
}

/** The stores a bounty marketplace writes to. */
export interface BountyPorts {
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly bounties: BountyStore<any>;
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly claims: ClaimStore<any>;
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly credits: CreditsService<any>;
}
