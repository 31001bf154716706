import { conflict, rejected } from "./cas-document.js";
import type { Claim, Reservation } from "./model.js";
import type { ClaimOutcome, ClaimStore, CreditsService } from "./ports.js";

/**
 * The domain rules every bounty port applies, whatever it stores in: each port reads its state,
 * asks these pure functions what the rule decides, and writes the answer its own way. Keeping them
 * here means the memory, Redis and SQL ports cannot drift apart on what a claim or a capture means.
 */

/** What {@link ClaimStore.claimOrRenew} is asked. */
export type ClaimRequest = Parameters<ClaimStore["claimOrRenew"]>[1];

/** What {@link CreditsService.reserve} is asked. */
export type ReserveRequest = Parameters<CreditsService["reserve"]>[1];

/** What {@link CreditsService.capture} is asked. */
export type CaptureRequest = Parameters<CreditsService["capture"]>[1];

/** A claim as it stands at `now`: an active claim whose lease has lapsed is expired. */
export function lapsed(claim: Claim, now: number): Claim {
  return claim.status === "active" && claim.leaseExpiresAt <= now
    ? { ...claim, status: "expired" }
    : claim;
}

/**
 * The outcome when a claim with the request's id already exists: the active claim unchanged (the
 * same call made again), or a refusal for one no longer active. `undefined` when none exists.
 */
export function existingClaim(mine: Claim | undefined, claimId: string): ClaimOutcome | undefined {
  if (mine === undefined) return undefined;
  if (mine.status === "active") return { claim: mine, renewed: false };
  return rejected(`Claim "${claimId}" is ${mine.status} and cannot be taken again.`);
}

/**
 * What to write for a claim request whose id is new, given the target's active claim: the same
 * agent's claim renewed, or a new claim when the target is free. Throws a conflict when another
 * agent holds it.
 */
export function takeClaim(live: Claim | undefined, request: ClaimRequest): ClaimOutcome {
  const { claimId, targetRef, agentId, leaseMs, now } = request;
  if (live !== undefined && live.agentId !== agentId) {
    return conflict(
      `Target "${targetRef}" is claimed by ${live.agentId} until ${live.leaseExpiresAt}.`,
    );
  }
  if (live !== undefined)
    return { claim: { ...live, leaseExpiresAt: now + leaseMs }, renewed: true };
  const claim: Claim = {
    claimId,
    targetRef,
    agentId,
    status: "active",
    leaseExpiresAt: now + leaseMs,
  };
  return { claim, renewed: false };
}

/**
 * Decides a claim request against every claim on its target, for the ports that keep them in one
 * document: the outcome, and the target's claims to write back (`undefined` to write nothing).
 */
export function claimInDocument(
  stored: readonly Claim[],
  request: ClaimRequest,
): { readonly outcome: ClaimOutcome; readonly claims: readonly Claim[] | undefined } {
  const claims = stored.map((c) => lapsed(c, request.now));
  const replayed = existingClaim(
    claims.find((c) => c.claimId === request.claimId),
    request.claimId,
  );
  if (replayed !== undefined) return { outcome: replayed, claims: undefined };
  const live = claims.find((c) => c.status === "active");
  const outcome = takeClaim(live, request);
  return {
    outcome,
    claims: outcome.renewed
      ? claims.map((c) => (c === live ? outcome.claim : c))
      : [...claims, outcome.claim],
  };
}

/**
 * The reservation a reserve request finds already made: returned as it is when it has the request's
 * agent and amount (the same call made again), refused otherwise. `undefined` when none exists.
 */
export function existingReservation(
  existing: Reservation | undefined,
  request: ReserveRequest,
): Reservation | undefined {
  if (existing === undefined) return undefined;
  if (existing.agentId === request.agentId && existing.amount === request.amount) return existing;
  return rejected(`Reservation "${request.reservationId}" exists with other parameters.`);
}

/** The reservation a reserve request creates, held until its timeout. */
export function heldReservation(request: ReserveRequest): Reservation {
  const { reservationId, agentId, amount, timeoutMs, now } = request;
  return { reservationId, agentId, amount, status: "held", expiresAt: now + timeoutMs };
}

/** The reservation a movement names, or a refusal when it does not exist. */
export function found(r: Reservation | undefined, reservationId: string): Reservation {
  return r ?? rejected(`Reservation "${reservationId}" does not exist.`);
}

/**
 * Decides a capture of reservation `r`: `true` when it is already captured to the request's
 * recipient (the same call made again: nothing to write), `false` when it is to be captured now.
 * Throws when it went to another recipient, or is voided or expired.
 */
export function alreadyCaptured(r: Reservation, request: CaptureRequest): boolean {
  const { reservationId, toAgentId, now } = request;
  if (r.status === "captured") {
    if (r.capturedTo === toAgentId) return true;
    return rejected(
      `Reservation "${reservationId}" was captured to ${r.capturedTo}, not ${toAgentId}.`,
    );
  }
  if (r.status !== "held" || r.expiresAt <= now) {
    return rejected(
      `Reservation "${reservationId}" is ${r.status === "held" ? "expired" : r.status} and cannot be captured.`,
    );
  }
  return false;
}
