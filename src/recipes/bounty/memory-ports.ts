import type { MemoryHandle, MemoryStore } from "../../adapters/memory/index.js";
import { conflict, rejected, updateDocument } from "./cas-document.js";
import {
  type Balance,
  BOUNTY_TRANSITIONS,
  type Bounty,
  bountySchema,
  type Claim,
  type Reservation,
} from "./model.js";
import {
  alreadyCaptured,
  claimInDocument,
  existingReservation,
  found,
  heldReservation,
} from "./port-rules.js";
import type {
  BountyStore,
  BountyTransition,
  ClaimOutcome,
  ClaimStore,
  CreditsService,
} from "./ports.js";

/** Applies a transition to a bounty, or throws a conflict naming the condition that failed. */
export function applyTransition(
  bounty: Bounty | undefined,
  bountyId: string,
  change: BountyTransition,
): Bounty {
  if (bounty === undefined) return rejected(`Bounty "${bountyId}" does not exist.`);
  if (!change.from.includes(bounty.status)) {
    return conflict(`Bounty "${bountyId}" is ${bounty.status}, not ${change.from.join(" or ")}.`);
  }
  if (!BOUNTY_TRANSITIONS[bounty.status].includes(change.to)) {
    return rejected(`Bounty "${bountyId}" cannot go from ${bounty.status} to ${change.to}.`);
  }
  if (change.expectVersion !== undefined && bounty.version !== change.expectVersion) {
    return conflict(
      `Bounty "${bountyId}" is at version ${bounty.version}, not ${change.expectVersion}.`,
    );
  }
  for (const [field, expected] of Object.entries(change.where ?? {})) {
    if (bounty[field as keyof Bounty] !== expected) {
      return conflict(
        `Bounty "${bountyId}" has ${field} ${String(bounty[field as keyof Bounty])}, not ${String(expected)}.`,
      );
    }
  }
  const next: Record<string, unknown> = {
    ...bounty,
    status: change.to,
    updatedAt: change.now,
    version: bounty.version + 1,
  };
  for (const [field, value] of Object.entries(change.set ?? {})) {
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return bountySchema.parse(next);
}

/** Bounties in a memory store, one document each. */
export function memoryBountyStore(store: MemoryStore): BountyStore<MemoryHandle> {
  const key = (id: string) => `bounty:${id}`;
  return {
    store,
    get: async (handle, bountyId) => (await handle.get(key(bountyId)))?.value as Bounty | undefined,
    create: (handle, bounty) =>
      updateDocument<Bounty, Bounty>(handle, key(bounty.bountyId), (current) => {
        if (current === undefined) return { value: bountySchema.parse(bounty), result: bounty };
        if (current.reservationId === bounty.reservationId)
          return { value: undefined, result: current };
        return conflict(`Bounty "${bounty.bountyId}" already exists with another reservation.`);
      }),
    transition: (handle, bountyId, change) =>
      updateDocument<Bounty, Bounty>(handle, key(bountyId), (current) => {
        const next = applyTransition(current, bountyId, change);
        return { value: next, result: next };
      }),
    list: async (handle) => (await handle.list("bounty:")).map((d) => d.value as Bounty),
    repairIndexes: async () => 0,
    indexDrift: async () => [],
  };
}

interface ClaimsDoc {
  readonly claims: readonly Claim[];
}

/** Claims in a memory store, one document per target so a claim is decided atomically. */
export function memoryClaimStore(store: MemoryStore): ClaimStore<MemoryHandle> {
  const key = (target: string) => `claims:${target}`;
  const all = async (handle: MemoryHandle) =>
    (await handle.list("claims:")).flatMap((d) => (d.value as ClaimsDoc).claims);
  const targetOf = async (handle: MemoryHandle, claimId: string) =>
    (await all(handle)).find((c) => c.claimId === claimId)?.targetRef;
  const change = async (
    handle: MemoryHandle,
    claimId: string,
    edit: (claim: Claim) => Claim | undefined,
  ) => {
    const target = await targetOf(handle, claimId);
    if (target === undefined) return rejected(`Claim "${claimId}" does not exist.`);
    return updateDocument<ClaimsDoc, Claim | undefined>(handle, key(target), (doc) => {
      const claim = doc?.claims.find((c) => c.claimId === claimId);
      const next = claim && edit(claim);
      if (doc === undefined || next === undefined || next === claim)
        return { value: undefined, result: next };
      return {
        value: { claims: doc.claims.map((c) => (c.claimId === claimId ? next : c)) },
        result: next,
      };
    });
  };
  return {
    store,
    claimOrRenew: (handle, request) =>
      updateDocument<ClaimsDoc, ClaimOutcome>(handle, key(request.targetRef), (doc) => {
        const { outcome, claims } = claimInDocument(doc?.claims ?? [], request);
        return { value: claims && { claims }, result: outcome };
      }),
    get: async (handle, claimId) => (await all(handle)).find((c) => c.claimId === claimId),
    release: async (handle, claimId) => {
      const target = await targetOf(handle, claimId);
      if (target === undefined) return false;
      return (
        (
          await change(handle, claimId, (c) =>
            c.status === "active" ? { ...c, status: "released" } : c,
          )
        )?.status === "released"
      );
    },
    complete: async (handle, claimId) => {
      const done = await change(handle, claimId, (c) =>
        c.status === "completed" ? c : { ...c, status: "completed" },
      );
      return done as Claim;
    },
    list: all,
  };
}

interface Ledger {
  readonly balances: Readonly<Record<string, Balance>>;
  readonly reservations: Readonly<Record<string, Reservation>>;
}

const LEDGER = "credits:ledger";

/** A credits ledger in one memory document, so every movement of credits is one atomic write. */
export function memoryCredits(store: MemoryStore): CreditsService<MemoryHandle> & {
  /** Sets opening balances (available credits); for setup. */
  seed(handle: MemoryHandle, balances: Readonly<Record<string, number>>): Promise<void>;
} {
  const ledger = async (handle: MemoryHandle) =>
    ((await handle.get(LEDGER))?.value as Ledger | undefined) ?? { balances: {}, reservations: {} };
  const balanceOf = (l: Ledger, agent: string): Balance =>
    l.balances[agent] ?? { available: 0, reserved: 0 };
  return {
    store,
    seed: (handle, balances) =>
      updateDocument<Ledger, undefined>(handle, LEDGER, (current) => {
        const l = current ?? { balances: {}, reservations: {} };
        const next = { ...l.balances };
        for (const [agent, available] of Object.entries(balances))
          next[agent] = { available, reserved: balanceOf(l, agent).reserved };
        return { value: { ...l, balances: next }, result: undefined };
      }),
    reserve: (handle, request) =>
      updateDocument<Ledger, Reservation>(handle, LEDGER, (current) => {
        const { reservationId, agentId, amount } = request;
        const l = current ?? { balances: {}, reservations: {} };
        const existing = existingReservation(l.reservations[reservationId], request);
        if (existing !== undefined) return { value: undefined, result: existing };
        const balance = balanceOf(l, agentId);
        if (balance.available < amount)
          return rejected(`${agentId} has ${balance.available} credits available, not ${amount}.`);
        const reservation = heldReservation(request);
        return {
          value: {
            balances: {
              ...l.balances,
              [agentId]: {
                available: balance.available - amount,
                reserved: balance.reserved + amount,
              },
            },
            reservations: { ...l.reservations, [reservationId]: reservation },
          },
          result: reservation,
        };
      }),
    capture: (handle, request) =>
      updateDocument<Ledger, Reservation>(handle, LEDGER, (current) => {
        const { reservationId, toAgentId } = request;
        const l = current ?? { balances: {}, reservations: {} };
        const r = found(l.reservations[reservationId], reservationId);
        if (alreadyCaptured(r, request)) return { value: undefined, result: r };
        const from = balanceOf(l, r.agentId);
        const balances = {
          ...l.balances,
          [r.agentId]: { available: from.available, reserved: from.reserved - r.amount },
        };
        const to = balances[toAgentId] ?? { available: 0, reserved: 0 };
        balances[toAgentId] = { available: to.available + r.amount, reserved: to.reserved };
        const captured: Reservation = { ...r, status: "captured", capturedTo: toAgentId };
        return {
          value: { balances, reservations: { ...l.reservations, [reservationId]: captured } },
          result: captured,
        };
      }),
    void: (handle, reservationId) =>
      updateDocument<Ledger, Reservation>(handle, LEDGER, (current) => {
        const l = current ?? { balances: {}, reservations: {} };
        const r = found(l.reservations[reservationId], reservationId);
        if (r.status !== "held") return { value: undefined, result: r };
        const from = balanceOf(l, r.agentId);
        const voided: Reservation = { ...r, status: "voided" };
        return {
          value: {
            balances: {
              ...l.balances,
              [r.agentId]: {
                available: from.available + r.amount,
                reserved: from.reserved - r.amount,
              },
            },
            reservations: { ...l.reservations, [reservationId]: voided },
          },
          result: voided,
        };
      }),
    get: async (handle, reservationId) => (await ledger(handle)).reservations[reservationId],
    list: async (handle) => Object.values((await ledger(handle)).reservations),
    balance: async (handle, agentId) => balanceOf(await ledger(handle), agentId),
    total: async (handle) =>
      Object.values((await ledger(handle)).balances).reduce(
        (sum, b) => sum + b.available + b.reserved,
        0,
      ),
  };
}
