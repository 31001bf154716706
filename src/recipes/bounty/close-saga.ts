import { z } from "zod";
import { committed, defineSaga, notCommitted, StoreError } from "../../index.js";
import { type BountySagaContext, IDEMPOTENT_RETRIABLE } from "./saga-context.js";

/**
 * The bounty.expire and bounty.cancel sagas: open|claimed→expired/cancelled by compare-and-set
 * (pivot, so neither can race a settlement past its pivot) → void the reservation → release the
 * claim (retriable).
 */
export function closeBountySaga(
  context: BountySagaContext,
  name: "bounty.expire" | "bounty.cancel",
  to: "expired" | "cancelled",
) {
  const { bounties, claims, credits, clock } = context;
  return defineSaga(name, { input: z.object({ bountyId: z.string().min(1) }) })
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
      ...IDEMPOTENT_RETRIABLE,
      output: z.object({ voided: z.boolean() }),
      execute: async ({ outputs, handle }) => {
        if (outputs.close.reservationId === null) return { voided: false };
        await credits.void(handle, outputs.close.reservationId);
        return { voided: true };
      },
    })
    .step("release", {
      store: claims.store,
      ...IDEMPOTENT_RETRIABLE,
      output: z.object({ released: z.boolean() }),
      execute: async ({ outputs: { close }, handle }) => ({
        released: close.claimId !== null && (await claims.release(handle, close.claimId)),
      }),
    })
    .build();
}
