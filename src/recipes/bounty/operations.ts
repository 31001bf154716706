import { z } from "zod";
import {
  type Clock,
  committed,
  compensated,
  defineSaga,
  escalate,
  guardFailed,
  notCommitted,
  StoreError,
  systemClock,
} from "../../index.js";
import { type Bounty, bountyTarget } from "./model.js";
import type { BountyStore, ClaimStore, CreditsService } from "./ports.js";

/** The stores a bounty marketplace writes to. */
export interface BountyPorts {
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly bounties: BountyStore<any>;
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly claims: ClaimStore<any>;
  // biome-ignore lint/suspicious/noExplicitAny: each port may live on any kind of store.
  readonly credits: CreditsService<any>;
}

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

const reservationOutput = z.object({ reservationId: z.string() });

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
  const clock = options.clock ?? systemClock;
  const claimLeaseMs = options.claimLeaseMs ?? 3_600_000;
  const graceMs = options.reservationGraceMs ?? 86_400_000;
  const verify = options.verifyContribution ?? (async () => undefined);
  const { bounties, claims, credits } = ports;
  /**
   * Reads a bounty from a step on `stepStore`: through the step's own handle when the bounties live
   * in that same database, so a step inside a transaction reads within it instead of holding its
   * connection while it waits for a second one (with as many concurrent transactions as a pool has
   * connections, that wait never ends); through the bounty store's root handle otherwise.
   */
  const readBounty = (stepStore: { readonly id: string }, handle: unknown, bountyId: string) =>
    bounties.get(bounties.store.id === stepStore.id ? handle : bounties.store.handle, bountyId);
  /** Reads a reservation from a step on `stepStore`; see `readBounty`. */
  const readReservation = (stepStore: { readonly id: string }, handle: unknown, id: string) =>
    credits.get(credits.store.id === stepStore.id ? handle : credits.store.handle, id);

  const create = defineSaga("bounty.create", {
    input: z.object({
      bountyId: z.string().min(1).optional(),
      title: z.string().min(1),
      amount: z.number().int().positive(),
      creator: z.string().min(1),
      deadline: z.number().int().positive(),
    }),
  })
    .step("reserve", {
      store: credits.store,
      kind: "compensatable",
      output: reservationOutput,
      execute: async ({ input, handle, key }) => {
        const now = clock.now();
        if (input.deadline <= now)
          throw new StoreError("not_committed", `The deadline ${input.deadline} has passed.`);
        await credits.reserve(handle, {
          reservationId: key,
          agentId: input.creator,
          amount: input.amount,
          timeoutMs: input.deadline - now + graceMs,
          now,
        });
        return { reservationId: key };
      },
      probe: async ({ handle, key }) =>
        (await credits.get(handle, key)) ? committed({ reservationId: key }) : notCommitted(),
      compensate: async ({ input, handle, output, sagaId }) => {
        const bounty = await readBounty(
          credits.store,
          handle,
          input.bountyId ?? defaultBountyId(sagaId),
        );
        if (
          bounty?.reservationId === output.reservationId &&
          !["expired", "cancelled"].includes(bounty.status)
        ) {
          return guardFailed(
            `bounty ${bounty.bountyId} is ${bounty.status} and holds reservation ${output.reservationId}`,
          );
        }
        await credits.void(handle, output.reservationId);
        return compensated();
      },
    })
    .step("open", {
      store: bounties.store,
      kind: "pivot",
      output: z.object({ bountyId: z.string() }),
      execute: async ({ input, outputs, handle, sagaId }) => {
        const now = clock.now();
        const bountyId = input.bountyId ?? defaultBountyId(sagaId);
        await bounties.create(handle, {
          bountyId,
          title: input.title,
          amount: input.amount,
          creator: input.creator,
          status: "open",
          deadline: input.deadline,
          reservationId: outputs.reserve.reservationId,
          createdAt: now,
          updatedAt: now,
          version: 1,
        });
        return { bountyId };
      },
      probe: async ({ input, outputs, handle, sagaId }) => {
        const bountyId = input.bountyId ?? defaultBountyId(sagaId);
        const bounty = await bounties.get(handle, bountyId);
        if (bounty === undefined) return notCommitted();
        return bounty.reservationId === outputs.reserve.reservationId
          ? committed({ bountyId })
          : notCommitted();
      },
    })
    .build();

  const claim = defineSaga("bounty.claim", {
    input: z.object({
      bountyId: z.string().min(1),
      agentId: z.string().min(1),
      leaseMs: z.number().int().positive().optional(),
    }),
  })
    .step("claim", {
      store: claims.store,
      kind: "compensatable",
      output: z.object({ claimId: z.string(), renewed: z.boolean() }),
      execute: async ({ input, handle, key }) => {
        const bounty = await readBounty(claims.store, handle, input.bountyId);
        if (bounty === undefined)
          throw new StoreError("not_committed", `Bounty "${input.bountyId}" does not exist.`);
        const mine = bounty.status === "claimed" && bounty.claimedBy === input.agentId;
        if (bounty.status !== "open" && !mine) {
          throw new StoreError(
            "conflict",
            `Bounty "${input.bountyId}" is ${bounty.status}${bounty.claimedBy ? ` by ${bounty.claimedBy}` : ""}.`,
          );
        }
        const outcome = await claims.claimOrRenew(handle, {
          claimId: key,
          targetRef: bountyTarget(input.bountyId),
          agentId: input.agentId,
          leaseMs: input.leaseMs ?? claimLeaseMs,
          now: clock.now(),
        });
        return { claimId: outcome.claim.claimId, renewed: outcome.renewed };
      },
      probe: async ({ input, handle, key }) => {
        const created = await claims.get(handle, key);
        if (created !== undefined) return committed({ claimId: key, renewed: false });
        // A renewal extends the agent's existing claim; finding it active is finding the renewal.
        const live = (await claims.list(handle)).find(
          (c) =>
            c.targetRef === bountyTarget(input.bountyId) &&
            c.agentId === input.agentId &&
            c.status === "active",
        );
        return live ? committed({ claimId: live.claimId, renewed: true }) : notCommitted();
      },
      compensate: async ({ input, handle, output }) => {
        // A renewal only extended a lease the agent already held: nothing to undo.
        if (output.renewed) return compensated();
        const bounty = await readBounty(claims.store, handle, input.bountyId);
        if (bounty?.claimId === output.claimId) {
          return guardFailed(
            `bounty ${input.bountyId} points at claim ${output.claimId}; releasing it would strand the bounty`,
          );
        }
        await claims.release(handle, output.claimId);
        return compensated();
      },
    })
    .step("mark", {
      store: bounties.store,
      kind: "pivot",
      output: z.object({ version: z.number().int() }),
      execute: async ({ input, outputs, handle }) => {
        const now = clock.now();
        const bounty = await bounties.get(handle, input.bountyId);
        if (bounty?.status === "claimed" && bounty.claimId === outputs.claim.claimId)
          return { version: bounty.version };
        const updated =
          bounty?.status === "claimed"
            ? await bounties.transition(handle, input.bountyId, {
                from: ["claimed"],
                to: "claimed",
                expectVersion: bounty.version,
                where: { claimedBy: input.agentId },
                set: { claimId: outputs.claim.claimId },
                now,
              })
            : await bounties.transition(handle, input.bountyId, {
                from: ["open"],
                to: "claimed",
                ...(bounty ? { expectVersion: bounty.version } : {}),
                set: { claimId: outputs.claim.claimId, claimedBy: input.agentId },
                now,
              });
        return { version: updated.version };
      },
      probe: async ({ input, outputs, handle }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        return bounty?.claimId === outputs.claim.claimId
          ? committed({ version: bounty.version })
          : notCommitted();
      },
    })
    .build();

  const settlement = z.object({
    reservationId: z.string(),
    claimId: z.string(),
    worker: z.string(),
  });
  const settle = defineSaga("bounty.settle", {
    input: z.object({
      bountyId: z.string().min(1),
      agentId: z.string().min(1),
      contributionId: z.string().min(1),
    }),
    recovery: "roll_forward",
  })
    .step("begin", {
      store: bounties.store,
      kind: "compensatable",
      output: settlement,
      execute: async ({ input, handle }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        if (bounty === undefined)
          throw new StoreError("not_committed", `Bounty "${input.bountyId}" does not exist.`);
        const frozen = bounty.fulfilledByContributionId;
        if (["pending_settlement", "completed", "settled"].includes(bounty.status)) {
          if (frozen === input.contributionId && bounty.claimedBy === input.agentId)
            return settlementOf(bounty);
          throw new StoreError(
            "not_committed",
            `Bounty "${input.bountyId}" is being settled with contribution ${frozen}, not ${input.contributionId}.`,
          );
        }
        if (bounty.status !== "claimed" || bounty.claimedBy !== input.agentId) {
          throw new StoreError(
            "not_committed",
            `Bounty "${input.bountyId}" is ${bounty.status}${bounty.claimedBy ? ` by ${bounty.claimedBy}` : ""}, not claimed by ${input.agentId}.`,
          );
        }
        const reservation =
          bounty.reservationId === undefined
            ? undefined
            : await readReservation(bounties.store, handle, bounty.reservationId);
        if (reservation?.status !== "held") {
          // The escrow is gone under a live bounty: no retry or compensation can make this right.
          escalate(
            `bounty ${input.bountyId} cannot be settled: its reservation ${bounty.reservationId ?? "(none)"} is ${reservation?.status ?? "missing"}`,
          );
        }
        const refusal = await verify(bounty, input.contributionId, input.agentId);
        if (refusal !== undefined)
          throw new StoreError(
            "not_committed",
            `Contribution ${input.contributionId} does not fulfil bounty "${input.bountyId}": ${refusal}.`,
          );
        const updated = await bounties.transition(handle, input.bountyId, {
          from: ["claimed"],
          to: "pending_settlement",
          expectVersion: bounty.version,
          where: {
            claimedBy: input.agentId,
            ...(bounty.claimId ? { claimId: bounty.claimId } : {}),
          },
          set: { fulfilledByContributionId: input.contributionId },
          now: clock.now(),
        });
        return settlementOf(updated);
      },
      probe: async ({ input, handle }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        if (bounty === undefined) return notCommitted();
        const moved = ["pending_settlement", "completed", "settled"].includes(bounty.status);
        if (moved && bounty.fulfilledByContributionId === input.contributionId)
          return committed(settlementOf(bounty));
        // Frozen to another contribution (or never moved): our transition is not what is in place.
        return notCommitted();
      },
      compensate: async ({ input, handle, output }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        if (bounty === undefined || bounty.status === "claimed") return compensated();
        if (
          bounty.status !== "pending_settlement" ||
          bounty.fulfilledByContributionId !== input.contributionId
        ) {
          return guardFailed(
            `bounty ${input.bountyId} is ${bounty.status}; settlement cannot be undone`,
          );
        }
        const reservation = await readReservation(bounties.store, handle, output.reservationId);
        if (reservation?.status !== "held") {
          return guardFailed(
            `bounty ${input.bountyId} cannot be settled: its reservation ${output.reservationId} is ${reservation?.status ?? "missing"}, and returning the bounty to claimed would leave it unfunded`,
          );
        }
        await bounties.transition(handle, input.bountyId, {
          from: ["pending_settlement"],
          to: "claimed",
          where: { fulfilledByContributionId: input.contributionId },
          set: { fulfilledByContributionId: null },
          now: clock.now(),
        });
        return compensated();
      },
    })
    .step("capture", {
      store: credits.store,
      kind: "pivot",
      output: z.object({ capturedTo: z.string() }),
      retry: { attempts: 5 },
      execute: async ({ outputs, handle, key }) => {
        const captured = await credits.capture(handle, {
          reservationId: outputs.begin.reservationId,
          toAgentId: outputs.begin.worker,
          idempotencyKey: key,
          now: clock.now(),
        });
        return { capturedTo: captured.capturedTo ?? outputs.begin.worker };
      },
      probe: async ({ outputs, handle }) => {
        const reservation = await credits.get(handle, outputs.begin.reservationId);
        return reservation?.status === "captured" && reservation.capturedTo === outputs.begin.worker
          ? committed({ capturedTo: outputs.begin.worker })
          : notCommitted();
      },
    })
    .step("complete", {
      store: bounties.store,
      kind: "retriable",
      output: z.object({ status: z.string() }),
      probe: async ({ input, handle }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        return bounty && ["completed", "settled"].includes(bounty.status)
          ? committed({ status: bounty.status })
          : notCommitted();
      },
      execute: async ({ input, handle }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        if (bounty && ["completed", "settled"].includes(bounty.status))
          return { status: bounty.status };
        const updated = await bounties.transition(handle, input.bountyId, {
          from: ["pending_settlement"],
          to: "completed",
          where: { fulfilledByContributionId: input.contributionId },
          now: clock.now(),
        });
        return { status: updated.status };
      },
    })
    .step("settle", {
      store: bounties.store,
      kind: "retriable",
      output: z.object({ status: z.literal("settled") }),
      probe: async ({ input, handle }) =>
        (await bounties.get(handle, input.bountyId))?.status === "settled"
          ? committed({ status: "settled" as const })
          : notCommitted(),
      execute: async ({ input, handle }) => {
        const bounty = await bounties.get(handle, input.bountyId);
        if (bounty?.status !== "settled") {
          await bounties.transition(handle, input.bountyId, {
            from: ["completed"],
            to: "settled",
            now: clock.now(),
          });
        }
        return { status: "settled" as const };
      },
    })
    .step("closeClaim", {
      store: claims.store,
      kind: "retriable",
      // Idempotent by construction: a second call finds the work done and changes nothing.
      idempotent: true,
      output: z.object({ claimId: z.string() }),
      execute: async ({ outputs, handle }) => {
        await claims.complete(handle, outputs.begin.claimId);
        return { claimId: outputs.begin.claimId };
      },
    })
    .build();

  const close = (name: "bounty.expire" | "bounty.cancel", to: "expired" | "cancelled") =>
    defineSaga(name, { input: z.object({ bountyId: z.string().min(1) }) })
      .step("close", {
        store: bounties.store,
        kind: "pivot",
        output: z.object({ reservationId: z.string().nullable(), claimId: z.string().nullable() }),
        execute: async ({ input, handle }) => {
          const bounty = await bounties.get(handle, input.bountyId);
          if (bounty === undefined)
            throw new StoreError("not_committed", `Bounty "${input.bountyId}" does not exist.`);
          const refs = {
            reservationId: bounty.reservationId ?? null,
            claimId: bounty.claimId ?? null,
          };
          if (bounty.status === to) return refs;
          const now = clock.now();
          if (to === "expired" && bounty.deadline > now) {
            throw new StoreError(
              "not_committed",
              `Bounty "${input.bountyId}" is not past its deadline ${bounty.deadline}.`,
            );
          }
          await bounties.transition(handle, input.bountyId, {
            from: to === "cancelled" ? ["draft", "open", "claimed"] : ["open", "claimed"],
            to,
            expectVersion: bounty.version,
            now,
          });
          return refs;
        },
        probe: async ({ input, handle }) => {
          const bounty = await bounties.get(handle, input.bountyId);
          return bounty?.status === to
            ? committed({
                reservationId: bounty.reservationId ?? null,
                claimId: bounty.claimId ?? null,
              })
            : notCommitted();
        },
      })
      .step("void", {
        store: credits.store,
        kind: "retriable",
        // Idempotent by construction: a second call finds the work done and changes nothing.
        idempotent: true,
        output: z.object({ voided: z.boolean() }),
        execute: async ({ outputs, handle }) => {
          if (outputs.close.reservationId === null) return { voided: false };
          await credits.void(handle, outputs.close.reservationId);
          return { voided: true };
        },
      })
      .step("release", {
        store: claims.store,
        kind: "retriable",
        // Idempotent by construction: a second call finds the work done and changes nothing.
        idempotent: true,
        output: z.object({ released: z.boolean() }),
        execute: async ({ outputs, handle }) => {
          if (outputs.close.claimId === null) return { released: false };
          return { released: await claims.release(handle, outputs.close.claimId) };
        },
      })
      .build();

  return {
    create,
    claim,
    settle,
    expire: close("bounty.expire", "expired"),
    cancel: close("bounty.cancel", "cancelled"),
  };
}

/** The sagas of a bounty marketplace. */
export type BountySagas = ReturnType<typeof bountySagas>;

/** The id of a bounty created without one: derived from its saga, so retries never create two. */
export function defaultBountyId(sagaId: string): string {
  return `bounty-${sagaId}`;
}

function settlementOf(bounty: Bounty): { reservationId: string; claimId: string; worker: string } {
  if (
    bounty.reservationId === undefined ||
    bounty.claimId === undefined ||
    bounty.claimedBy === undefined
  ) {
    throw new StoreError(
      "not_committed",
      `Bounty "${bounty.bountyId}" has no reservation or claim to settle.`,
    );
  }
  return { reservationId: bounty.reservationId, claimId: bounty.claimId, worker: bounty.claimedBy };
}
