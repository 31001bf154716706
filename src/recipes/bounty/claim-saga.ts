import { z } from "zod";
import {
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "../../index.js";
import { bountyTarget } from "./model.js";
import type { BountySagaContext } from "./saga-context.js";

/**
 * The bounty.claim saga: claimOrRenew (compensatable; released only if the bounty does not point at
 * it) → bounty open→claimed by compare-and-set (pivot; committed iff the bounty's claim is ours).
 */
export function claimBountySaga(context: BountySagaContext) {
  const { bounties, claims, clock, claimLeaseMs, readBounty } = context;
  return defineSaga("bounty.claim", {
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
}
