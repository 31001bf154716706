import { z } from "zod";
import {
  committed,
  compensated,
  defineSaga,
  escalate,
  guardFailed,
  notCommitted,
  StoreError,
} from "../../index.js";
import type { Bounty } from "./model.js";
import { type BountySagaContext, IDEMPOTENT_RETRIABLE } from "./saga-context.js";

const settlement = z.object({
  reservationId: z.string(),
  claimId: z.string(),
  worker: z.string(),
});

/**
 * The bounty.settle saga: claimed→pending_settlement with the contribution frozen (compensatable) →
 * capture the escrow with the saga's idempotency key (pivot) → completed → settled → claim
 * completed (retriable). It rolls forward: a delayed capture is retried, never unwound.
 */
export function settleBountySaga(context: BountySagaContext) {
  const { bounties, claims, credits, clock, verify, readReservation } = context;
  return defineSaga("bounty.settle", {
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
      ...IDEMPOTENT_RETRIABLE,
      output: z.object({ claimId: z.string() }),
      execute: async ({ outputs, handle }) => {
        await claims.complete(handle, outputs.begin.claimId);
        return { claimId: outputs.begin.claimId };
      },
    })
    .build();
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
