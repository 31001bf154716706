import { z } from "zod";
import { type HttpDocumentStore, httpDocumentStore } from "../../../src/adapters/http/index.js";
import { createMemoryStore, type MemoryStore } from "../../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StepKind,
  StoreError,
} from "../../../src/index.js";

/** The stores of the bounty saga, and what its steps saw. */
export interface World {
  readonly credits: MemoryStore;
  readonly bounties: HttpDocumentStore;
  /** The steps whose compensation ran, in order. */
  readonly compensations: string[];
  /** What createBounty's execute threw, in order. */
  readonly failures: unknown[];
}

/**
 * Credits in memory; bounties on the test document service at `baseUrl`, with a status index. The
 * test service implements the fencing protocol, so the store declares a `fence_token` fence and a
 * timed-out write its probe does not find is proven not committed.
 */
export function bountyWorld(baseUrl: string): World {
  return {
    credits: createMemoryStore({ tier: "plain", id: "memory:credits" }),
    bounties: httpDocumentStore({ baseUrl, statusIndex: { field: "status" }, fencing: true }),
    compensations: [],
    failures: [],
  };
}

export const INPUT = { bountyId: "b1", amount: 25 };
export const BOUNTY = "bounties/b1";

/** How the bounty write is made. */
export interface BountyOptions {
  /** Attempts of the bounty write. @default 1 */
  readonly attempts?: number;
  /**
   * Create with If-None-Match: *; otherwise a plain PUT, which nothing but a fence keeps a late
   * copy of from overwriting. @default true
   */
  readonly guarded?: boolean;
  /** The bounty write's timeout. @default the runner's */
  readonly timeoutMs?: number;
}

/**
 * reserve credits (memory, compensatable) → create the bounty document with If-None-Match: *
 * (HTTP, compensatable, probed by reading the document for this step's key) → activate (memory,
 * the pivot). The document records the step's key and the attempt that wrote it.
 */
export function bountySaga(world: World, options: BountyOptions = {}) {
  const guarded = options.guarded ?? true;
  return defineSaga("create-bounty", {
    input: z.object({ bountyId: z.string(), amount: z.number().int().positive() }),
  })
    .step("reserve", {
      store: world.credits,
      kind: StepKind.Compensatable,
      output: z.object({ reservation: z.string() }),
      execute: async ({ input, handle }) => {
        await handle.put(`res:${input.bountyId}`, { amount: input.amount });
        return { reservation: `res:${input.bountyId}` };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`res:${input.bountyId}`))
          ? committed({ reservation: `res:${input.bountyId}` })
          : notCommitted(),
      compensate: async ({ handle, output }) => {
        world.compensations.push("reserve");
        await handle.delete(output.reservation);
        return compensated();
      },
    })
    .step("createBounty", {
      store: world.bounties,
      kind: StepKind.Compensatable,
      output: z.object({ etag: z.string() }),
      retry: { attempts: options.attempts ?? 1, initialDelayMs: 1 },
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      execute: async ({ input, handle, key, attempt, signal }) => {
        try {
          const { etag } = await handle.put(
            `bounties/${input.bountyId}`,
            { status: "open", amount: input.amount, createdBy: key, attempt },
            guarded ? { ifNoneMatch: "*", signal } : { signal },
          );
          return { etag: etag ?? "" };
        } catch (error) {
          world.failures.push(error);
          throw error;
        }
      },
      // A fresh read: the bounty is ours if it carries this step's idempotency key.
      probe: async ({ input, handle, key, signal }) => {
        const doc = await handle.get<{ createdBy?: string }>(`bounties/${input.bountyId}`, {
          signal,
        });
        return doc?.body.createdBy === key ? committed({ etag: doc.etag }) : notCommitted();
      },
      compensate: async ({ input, handle, output, signal }) => {
        world.compensations.push("createBounty");
        const path = `bounties/${input.bountyId}`;
        try {
          await handle.delete(path, { ifMatch: output.etag, signal });
          return compensated();
        } catch (error) {
          if (!StoreError.is(error) || error.kind !== "conflict") throw error;
          return (await handle.get(path, { signal })) === undefined
            ? compensated()
            : guardFailed("the bounty changed after it was created");
        }
      },
    })
    .step("activate", {
      store: world.credits,
      kind: StepKind.Pivot,
      output: z.object({ active: z.literal(true) }),
      retry: { attempts: 1 },
      execute: async ({ input, handle }) => {
        await handle.put(`active:${input.bountyId}`, true);
        return { active: true as const };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`active:${input.bountyId}`))
          ? committed({ active: true as const })
          : notCommitted(),
    })
    .build();
}
