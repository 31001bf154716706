import { claimBountySaga } from "./claim-saga.js";
import { closeBountySaga } from "./close-saga.js";
import { createBountySaga } from "./create-saga.js";
import type { BountyPorts } from "./ports.js";
import { type BountySagaOptions, bountySagaContext } from "./saga-context.js";
import { settleBountySaga } from "./settle-saga.js";

/**
 * Defines the bounty sagas over the given ports:
 * - **create**: reserve the creator's credits (compensatable; voided only if no live bounty uses
 *   them) → create the bounty, open (pivot; probed by reading the bounty).
 * - **claim**: claimOrRenew (compensatable; released only if the bounty does not point at it) →
 *   bounty open→claimed by compare-and-set (pivot; committed iff the bounty's claim is ours).
 * - **settle**: claimed→pending_settlement with the contribution frozen (compensatable) → capture
 *   the escrow with the saga's idempotency key (pivot) → completed → settled → claim completed
 *   (retriable). It rolls forward: a delayed capture is retried, never unwound.
 * - **expire** / **cancel**: open|claimed→expired/cancelled by compare-and-set (pivot, so neither
 *   can race a settlement past its pivot) → void the reservation → release the claim (retriable).
 */
export function bountySagas(ports: BountyPorts, options: BountySagaOptions = {}) {
  const context = bountySagaContext(ports, options);
  return {
    create: createBountySaga(context),
    claim: claimBountySaga(context),
    settle: settleBountySaga(context),
    expire: closeBountySaga(context, "bounty.expire", "expired"),
    cancel: closeBountySaga(context, "bounty.cancel", "cancelled"),
  };
}

/** The sagas of a bounty marketplace. */
export type BountySagas = ReturnType<typeof bountySagas>;
