import {
  createMemoryStore,
  type MemoryStore,
  type MemoryTier,
} from "../../adapters/memory/index.js";
import { memoryBountyStore, memoryClaimStore, memoryCredits } from "./memory-ports.js";
import type { BountyPorts } from "./ports.js";

/** The three bounty ports on memory stores, with opening balances. */
export interface MemoryBountyPorts extends BountyPorts {
  /** The memory stores behind each port, for fault hooks and snapshots. */
  readonly stores: {
    readonly bounties: MemoryStore;
    readonly claims: MemoryStore;
    readonly credits: MemoryStore;
  };
}

/**
 * Creates the bounty ports on three memory stores of the given tier and seeds the agents' balances.
 *
 * @example
 * ```ts
 * const ports = await createMemoryBountyPorts({ balances: { alice: 100, bob: 0 } });
 * ```
 */
export async function createMemoryBountyPorts(options: {
  readonly balances: Readonly<Record<string, number>>;
  /** @default "plain" */
  readonly tier?: MemoryTier;
}): Promise<MemoryBountyPorts> {
  const tier = options.tier ?? "plain";
  const stores = {
    bounties: createMemoryStore({ id: `memory:bounties:${tier}`, tier }),
    claims: createMemoryStore({ id: `memory:claims:${tier}`, tier }),
    credits: createMemoryStore({ id: `memory:credits:${tier}`, tier }),
  };
  const credits = memoryCredits(stores.credits);
  await credits.seed(stores.credits.handle, options.balances);
  return {
    stores,
    bounties: memoryBountyStore(stores.bounties),
    claims: memoryClaimStore(stores.claims),
    credits,
  };
}
