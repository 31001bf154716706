import { z } from "zod";
import {
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "../../index.js";
import { defaultBountyId } from "./model.js";
import type { BountySagaContext } from "./saga-context.js";

const reservationOutput = z.object({ reservationId: z.string() });

/**
 * The bounty.create saga: reserve the creator's credits (compensatable; voided only if no live
 * bounty uses them) → create the bounty, open (pivot; probed by reading the bounty).
 */
export function createBountySaga(context: BountySagaContext) {
  const { bounties, credits, clock, graceMs, readBounty } = context;
  return defineSaga("bounty.create", {
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
}
