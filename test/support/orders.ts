import { z } from "zod";
import {
  createMemoryStore,
  type MemoryHandle,
  type MemoryStore,
  type MemoryTier,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "../../src/adapters/memory/index.js";
import type { Clock } from "../../src/core/clock.js";
import {
  type AtomicWrite,
  cannotTell,
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../src/index.js";

/** Every tier, so each suite runs the same scenarios under each (Kysely-style). */
export const TIERS: readonly MemoryTier[] = ["transactional", "batch", "plain"];

/** The strategy runAtomic must pick on each tier. */
export const STRATEGY_OF: Record<MemoryTier, "transaction" | "batch" | "sequential"> = {
  transactional: "transaction",
  batch: "batch",
  plain: "sequential",
};

export interface OrderWorld {
  readonly funds: MemoryStore;
  readonly orders: MemoryStore;
  /** Test switch: makes the reserve probe fail, so its outcome cannot be determined. */
  probeBroken: boolean;
  /** Every key each step execute saw, by step name, to check that retries reuse it. */
  readonly keysSeen: Record<string, string[]>;
}

export function createWorld(tier: MemoryTier, balance = 100): OrderWorld {
  return {
    funds: createMemoryStore({ id: `funds:${tier}`, tier, seed: { "acct:alice": { balance } } }),
    orders: createMemoryStore({ id: `orders:${tier}`, tier }),
    probeBroken: false,
    keysSeen: {},
  };
}

type Write = AtomicWrite<MemoryHandle, MemoryWrite, MemoryWriteResult>;

function see(world: OrderWorld, step: string, key: string): void {
  const seen = world.keysSeen[step] ?? [];
  seen.push(key);
  world.keysSeen[step] = seen;
}

/**
 * reserve (compensatable, on funds): debit the account and record a hold, atomically as far as the
 * tier allows; confirm (pivot, on orders): create the order; notify (retriable, on orders): write a
 * notice keyed by the step's idempotency key.
 */
export function orderSaga(
  world: OrderWorld,
  clock?: Clock,
  timeouts: { confirm?: number; probe?: number } = {},
  reserveMode: "runAtomic" | "single" = "runAtomic",
) {
  const { funds, orders } = world;
  const input = z.object({
    orderId: z.string().min(1),
    account: z.string().min(1),
    amount: z.number().int().positive(),
  });
  return defineSaga("order", { input })
    .step("reserve", {
      store: funds,
      kind: "compensatable",
      output: z.object({ holdVersion: z.number().int(), strategy: z.string() }),
      retry: { attempts: 3, initialDelayMs: 5 },
      execute: async ({ input, handle, key, signal }) => {
        see(world, "reserve", key);
        if (reserveMode === "single") {
          // One guarded write: atomic on every tier, so crash-safe without runAtomic's in-memory undo.
          const put = await handle.put(
            `hold:${input.orderId}`,
            { amount: input.amount, account: input.account, key },
            "absent",
          );
          if (put.affected === 0) throw new StoreError("conflict", `Hold ${input.orderId} exists.`);
          return { holdVersion: put.version ?? 0, strategy: "single" };
        }
        const account = await handle.get(`acct:${input.account}`);
        const balance = (account?.value as { balance: number } | undefined)?.balance ?? 0;
        if (account === undefined || balance < input.amount) {
          throw new StoreError(
            "not_committed",
            `Account ${input.account} cannot cover ${input.amount}.`,
          );
        }
        const holdKey = `hold:${input.orderId}`;
        const debit: Write = {
          name: "debit",
          guarded: true,
          build: () => ({
            op: "put",
            key: `acct:${input.account}`,
            value: { balance: balance - input.amount },
            ifVersion: account.version,
          }),
          undo: (_h, result) => ({
            op: "put",
            key: `acct:${input.account}`,
            value: { balance },
            ifVersion: result.version ?? -1,
          }),
          probe: async (h) => {
            if (world.probeBroken) throw new Error("the funds store is unreachable");
            const now = await h.get(`acct:${input.account}`);
            return now?.version === account.version + 1
              ? committed({ affected: 1, version: now.version })
              : notCommitted();
          },
        };
        const hold: Write = {
          name: "hold",
          guarded: true,
          build: () => ({
            op: "put",
            key: holdKey,
            value: { amount: input.amount, account: input.account, key },
            ifVersion: "absent",
          }),
          probe: async (h) => {
            if (world.probeBroken) throw new Error("the funds store is unreachable");
            const doc = await h.get(holdKey);
            return (doc?.value as { key?: string } | undefined)?.key === key
              ? committed({ affected: 1, version: doc?.version ?? null })
              : notCommitted();
          },
        };
        const result = await runAtomic(funds, [debit, hold], {
          signal,
          ...(clock ? { clock } : {}),
        });
        if (result.isErr()) throw result.error;
        return {
          holdVersion: result.value.results[1]?.version ?? 0,
          strategy: result.value.strategy,
        };
      },
      probe: async ({ input, handle, key }) => {
        if (world.probeBroken) throw new Error("the funds store is unreachable");
        const doc = await handle.get(`hold:${input.orderId}`);
        if ((doc?.value as { key?: string } | undefined)?.key !== key) return notCommitted();
        return committed({ holdVersion: doc?.version ?? 0, strategy: "probe" });
      },
      compensate: async ({ input, output, handle }) => {
        const holdKey = `hold:${input.orderId}`;
        const doc = await handle.get(holdKey);
        if (doc === undefined) return compensated();
        if (doc.version !== output.holdVersion) {
          return guardFailed(
            `hold ${holdKey} is at version ${doc.version}, not ${output.holdVersion}`,
          );
        }
        if (reserveMode === "single") {
          const released = await handle.delete(holdKey, doc.version);
          return released.affected === 1
            ? compensated()
            : guardFailed(`hold ${holdKey} changed while being released`);
        }
        const account = await handle.get(`acct:${input.account}`);
        const balance = (account?.value as { balance: number } | undefined)?.balance ?? 0;
        const undo = await runAtomic(
          funds,
          [
            {
              name: "release",
              guarded: true,
              build: () => memoryDelete(holdKey, doc.version),
              undo: () => memoryPut(holdKey, doc.value, "absent"),
            },
            {
              name: "refund",
              guarded: true,
              build: () =>
                memoryPut(
                  `acct:${input.account}`,
                  { balance: balance + input.amount },
                  account?.version ?? -1,
                ),
            },
          ],
          clock ? { clock } : {},
        );
        if (undo.isErr()) {
          if (undo.error.code === "conflict") return guardFailed(undo.error.message);
          throw undo.error;
        }
        return compensated();
      },
    })
    .step("confirm", {
      store: orders,
      kind: "pivot",
      output: z.object({ orderVersion: z.number().int() }),
      retry: { attempts: 1 },
      ...(timeouts.confirm === undefined ? {} : { timeoutMs: timeouts.confirm }),
      ...(timeouts.probe === undefined ? {} : { probeTimeoutMs: timeouts.probe }),
      execute: async ({ input, outputs, handle, key }) => {
        see(world, "confirm", key);
        const result = await handle.put(
          `order:${input.orderId}`,
          { status: "confirmed", amount: input.amount, hold: outputs.reserve.holdVersion, key },
          "absent",
        );
        if (result.affected === 0)
          throw new StoreError("conflict", `Order ${input.orderId} already exists.`);
        return { orderVersion: result.version ?? 0 };
      },
      probe: async ({ input, handle, key }) => {
        const doc = await handle.get(`order:${input.orderId}`);
        if (doc === undefined) return notCommitted();
        return (doc.value as { key?: string }).key === key
          ? committed({ orderVersion: doc.version })
          : cannotTell("a foreign order");
      },
    })
    .step("notify", {
      store: orders,
      kind: "retriable",
      output: z.object({ noticeKey: z.string() }),
      retry: { attempts: 2, initialDelayMs: 5 },
      execute: async ({ input, handle, key }) => {
        see(world, "notify", key);
        await handle.put(`notice:${key}`, { orderId: input.orderId });
        return { noticeKey: `notice:${key}` };
      },
    })
    .build();
}

/** The account balance. */
export function balanceOf(world: OrderWorld, account = "alice"): number {
  const doc = world.funds.snapshot()[`acct:${account}`];
  return (doc?.value as { balance: number } | undefined)?.balance ?? Number.NaN;
}
