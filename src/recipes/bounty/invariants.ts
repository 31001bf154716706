import type { BountyPorts } from "./ports.js";

/** One broken invariant, named by its code in the bounty domain. */
export interface Violation {
  /** `I1`…`I6`, `I8`, or `conservation`. */
  readonly invariant: string;
  /** What is wrong, naming the records. */
  readonly message: string;
}

/** Options of {@link checkBountyInvariants}. */
export interface BountyInvariantOptions {
  /**
   * The total credits every agent held before the operations; checked against the ledger's total.
   * Omitted, conservation is not checked.
   */
  readonly expectedTotal?: number;
  /**
   * Whether a recovery pass has run since the last operation. Before one, an orphan claim (I4), an
   * unfinished reservation (I6) or a stale secondary-index entry (I8) may legitimately exist.
   * @default true
   */
  readonly afterRecovery?: boolean;
}

/**
 * Checks the bounty invariants I1–I6, I8 and credit conservation over the ports' authoritative state,
 * read through each store's root handle. Returns every violation; an empty list means all hold.
 *
 * - I1: no open, claimed or pending_settlement bounty whose reservation is voided, expired or missing.
 * - I2: no settled bounty without its reservation captured to `claimedBy`.
 * - I3: no claimed bounty whose `claimId` is not an active claim owned by `claimedBy`.
 * - I4: no active claim on `bounty:<id>` unless that bounty is claimed or pending_settlement with it.
 * - I5: no captured reservation whose bounty is not pending_settlement, completed or settled.
 * - I6: every reservation of a finished bounty, and every reservation without a bounty, ends captured
 *   or voided — and captured only to the bounty's worker.
 * - I8: every secondary-index entry of the bounty store agrees with its bounty document, as the
 *   store's `indexDrift` reports (stores without an index report none).
 */
export async function checkBountyInvariants(
  ports: BountyPorts,
  options: BountyInvariantOptions = {},
): Promise<readonly Violation[]> {
  const afterRecovery = options.afterRecovery ?? true;
  const { bounties, claims, credits } = ports;
  const [allBounties, allClaims, reservations] = await Promise.all([
    bounties.list(bounties.store.handle),
    claims.list(claims.store.handle),
    credits.list(credits.store.handle),
  ]);
  const violations: Violation[] = [];
  const add = (invariant: string, message: string) => violations.push({ invariant, message });
  const reservationById = new Map(reservations.map((r) => [r.reservationId, r]));
  const claimById = new Map(allClaims.map((c) => [c.claimId, c]));
  const bountyByReservation = new Map(
    allBounties.flatMap((b) => (b.reservationId ? [[b.reservationId, b] as const] : [])),
  );
  const bountyById = new Map(allBounties.map((b) => [b.bountyId, b]));

  for (const b of allBounties) {
    const r = b.reservationId === undefined ? undefined : reservationById.get(b.reservationId);
    if (["open", "claimed", "pending_settlement"].includes(b.status) && r?.status !== "held") {
      add(
        "I1",
        `bounty ${b.bountyId} is ${b.status} but its reservation ${b.reservationId ?? "(none)"} is ${r?.status ?? "missing"}`,
      );
    }
    if (b.status === "settled" && (r?.status !== "captured" || r.capturedTo !== b.claimedBy)) {
      add(
        "I2",
        `bounty ${b.bountyId} is settled but its reservation is ${r?.status ?? "missing"}${r?.capturedTo ? ` to ${r.capturedTo}` : ""}, not captured to ${b.claimedBy}`,
      );
    }
    if (b.status === "claimed") {
      const c = b.claimId === undefined ? undefined : claimById.get(b.claimId);
      if (c?.status !== "active" || c.agentId !== b.claimedBy) {
        add(
          "I3",
          `bounty ${b.bountyId} is claimed by ${b.claimedBy} with claim ${b.claimId}, which is ${c ? `${c.status} for ${c.agentId}` : "missing"}`,
        );
      }
    }
  }
  if (afterRecovery) {
    for (const c of allClaims) {
      if (c.status !== "active" || !c.targetRef.startsWith("bounty:")) continue;
      const b = bountyById.get(c.targetRef.slice("bounty:".length));
      if (!b || !["claimed", "pending_settlement"].includes(b.status) || b.claimId !== c.claimId) {
        add(
          "I4",
          `claim ${c.claimId} on ${c.targetRef} is active but the bounty is ${b ? `${b.status} with claim ${b.claimId}` : "missing"}`,
        );
      }
    }
  }
  for (const r of reservations) {
    const b = bountyByReservation.get(r.reservationId);
    if (r.status === "captured") {
      if (!b || !["pending_settlement", "completed", "settled"].includes(b.status)) {
        add(
          "I5",
          `reservation ${r.reservationId} is captured but its bounty is ${b?.status ?? "missing"}`,
        );
      } else if (r.capturedTo !== b.claimedBy) {
        add(
          "I6",
          `reservation ${r.reservationId} was captured to ${r.capturedTo}, not to the worker ${b.claimedBy}`,
        );
      }
    }
    if (
      afterRecovery &&
      r.status === "held" &&
      (!b || ["settled", "expired", "cancelled"].includes(b.status))
    ) {
      add(
        "I6",
        `reservation ${r.reservationId} is still held but its bounty is ${b?.status ?? "missing"}`,
      );
    }
  }
  if (afterRecovery) {
    for (const drift of await bounties.indexDrift(bounties.store.handle)) add("I8", drift);
  }
  if (options.expectedTotal !== undefined) {
    const total = await credits.total(credits.store.handle);
    if (total !== options.expectedTotal)
      add("conservation", `the ledger holds ${total} credits, not ${options.expectedTotal}`);
  }
  return violations;
}
