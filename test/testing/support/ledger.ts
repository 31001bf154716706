import type { CallScope } from "../../../src/index.js";
import { StoreError } from "../../../src/index.js";
import type { MemoryHandle, MemoryStore, MemoryTier } from "../../../src/testing/index.js";

/** A hold: `amount` moved out of `from`, waiting to be released back or captured by someone. */
export interface Hold {
  readonly from: string;
  readonly amount: number;
  /** The idempotency key of the step that placed it. */
  readonly key: string;
  readonly status: "held" | "captured";
}

/** What releasing a hold did. */
export type Released = "released" | "absent" | "guard_failed";

/**
 * Balances and holds on one memory store, written with the strongest atomicity its tier offers:
 * one transaction (transactional), one guarded batch (batch), or one compare-and-set of a single
 * ledger document (plain). Every operation is one atomic write, so an error from it means exactly
 * what its kind says.
 */
export interface Ledger {
  /** Moves `amount` from `from` into hold `id`; idempotent for the same key. */
  hold(id: string, from: string, amount: number, key: string, scope: CallScope): Promise<Hold>;
  /** Reads hold `id`. */
  find(id: string): Promise<Hold | undefined>;
  /**
   * Releases hold `id` back to its account. Guarded, it refuses (and writes nothing) unless the hold
   * is still ours and still held; unguarded, it undoes whatever is there.
   */
  release(id: string, key: string, guarded: boolean, scope: CallScope): Promise<Released>;
  /** Another writer: captures hold `id` to account `to`, if it is held. */
  capture(id: string, to: string, scope: CallScope): Promise<boolean>;
}

/** The state of a ledger, read from the raw store: balances and holds. */
export interface LedgerState {
  readonly balances: Readonly<Record<string, number>>;
  readonly holds: Readonly<Record<string, Hold>>;
}

/** The initial documents of a ledger with these balances, in the layout of `tier`. */
export function ledgerSeed(
  tier: MemoryTier,
  balances: Readonly<Record<string, number>>,
): Record<string, unknown> {
  if (tier === "plain") return { ledger: { balances, holds: {} } };
  return Object.fromEntries(Object.entries(balances).map(([k, v]) => [`bal:${k}`, { balance: v }]));
}

/** Reads a ledger's state from a memory store's snapshot. */
export function ledgerState(store: MemoryStore): LedgerState {
  const docs = store.snapshot();
  if (store.tier === "plain") return docs.ledger?.value as LedgerState;
  const balances: Record<string, number> = {};
  const holds: Record<string, Hold> = {};
  for (const [key, doc] of Object.entries(docs)) {
    if (key.startsWith("bal:")) balances[key.slice(4)] = (doc.value as { balance: number }).balance;
    if (key.startsWith("hold:")) holds[key.slice(5)] = doc.value as Hold;
  }
  return { balances, holds };
}

/** Balances plus what is still held: constant whatever the sagas and captures did. */
export function ledgerTotal(state: LedgerState): number {
  const held = Object.values(state.holds)
    .filter((h) => h.status === "held")
    .reduce((sum, h) => sum + h.amount, 0);
  return Object.values(state.balances).reduce((sum, b) => sum + b, 0) + held;
}

/** The ledger of a store, in its tier's layout. */
export function ledgerOf(store: MemoryStore): Ledger {
  if (store.tier === "transactional") return transactionalLedger(store);
  if (store.tier === "batch") return batchLedger(store);
  return plainLedger(store);
}

function transactionalLedger(store: MemoryStore): Ledger {
  const tx = <T>(work: (h: MemoryHandle) => Promise<T>, scope: CallScope): Promise<T> =>
    (store.transaction as NonNullable<MemoryStore["transaction"]>)(work, scope);
  return {
    hold: (id, from, amount, key, scope) =>
      tx(async (h) => {
        const existing = await h.get(`hold:${id}`);
        if (existing !== undefined) return mine(existing.value as Hold, key);
        const balance = await balanceIn(h, from);
        if (balance < amount) throw insufficient(from, amount);
        await h.put(`bal:${from}`, { balance: balance - amount });
        const hold: Hold = { from, amount, key, status: "held" };
        await h.put(`hold:${id}`, hold);
        return hold;
      }, scope),
    find: async (id) => (await store.handle.get(`hold:${id}`))?.value as Hold | undefined,
    release: (id, key, guarded, scope) =>
      tx(async (h) => {
        const doc = await h.get(`hold:${id}`);
        if (doc === undefined) return "absent";
        const hold = doc.value as Hold;
        if (guarded && !stillOurs(hold, key)) return "guard_failed";
        await h.delete(`hold:${id}`);
        await h.put(`bal:${hold.from}`, { balance: (await balanceIn(h, hold.from)) + hold.amount });
        return "released";
      }, scope),
    capture: (id, to, scope) =>
      tx(async (h) => {
        const doc = await h.get(`hold:${id}`);
        const hold = doc?.value as Hold | undefined;
        if (hold?.status !== "held") return false;
        await h.put(`hold:${id}`, { ...hold, status: "captured" });
        await h.put(`bal:${to}`, { balance: (await balanceIn(h, to)) + hold.amount });
        return true;
      }, scope),
  };
}

function batchLedger(store: MemoryStore): Ledger {
  const batch = (writes: Parameters<NonNullable<MemoryStore["batch"]>>[0], scope: CallScope) =>
    (store.batch as NonNullable<MemoryStore["batch"]>)(writes, scope);
  const h = () => store.handle;
  return {
    async hold(id, from, amount, key, scope) {
      const existing = await h().get(`hold:${id}`);
      if (existing !== undefined) return mine(existing.value as Hold, key);
      const account = await h().get(`bal:${from}`);
      const balance = (account?.value as { balance: number } | undefined)?.balance ?? 0;
      if (account === undefined || balance < amount) throw insufficient(from, amount);
      const hold: Hold = { from, amount, key, status: "held" };
      await batch(
        [
          {
            op: "put",
            key: `bal:${from}`,
            value: { balance: balance - amount },
            ifVersion: account.version,
          },
          { op: "put", key: `hold:${id}`, value: hold, ifVersion: "absent" },
        ],
        scope,
      );
      return hold;
    },
    find: async (id) => (await h().get(`hold:${id}`))?.value as Hold | undefined,
    async release(id, key, guarded, scope) {
      const doc = await h().get(`hold:${id}`);
      if (doc === undefined) return "absent";
      const hold = doc.value as Hold;
      if (guarded && !stillOurs(hold, key)) return "guard_failed";
      const account = await h().get(`bal:${hold.from}`);
      const balance = (account?.value as { balance: number } | undefined)?.balance ?? 0;
      await batch(
        [
          { op: "delete", key: `hold:${id}`, ...(guarded ? { ifVersion: doc.version } : {}) },
          {
            op: "put",
            key: `bal:${hold.from}`,
            value: { balance: balance + hold.amount },
            ifVersion: account?.version ?? "absent",
          },
        ],
        scope,
      );
      return "released";
    },
    async capture(id, to, scope) {
      const doc = await h().get(`hold:${id}`);
      const hold = doc?.value as Hold | undefined;
      if (doc === undefined || hold?.status !== "held") return false;
      const account = await h().get(`bal:${to}`);
      const balance = (account?.value as { balance: number } | undefined)?.balance ?? 0;
      await batch(
        [
          {
            op: "put",
            key: `hold:${id}`,
            value: { ...hold, status: "captured" },
            ifVersion: doc.version,
          },
          {
            op: "put",
            key: `bal:${to}`,
            value: { balance: balance + hold.amount },
            ifVersion: account?.version ?? "absent",
          },
        ],
        scope,
      );
      return true;
    },
  };
}

function plainLedger(store: MemoryStore): Ledger {
  const h = () => store.handle;
  const read = async () => {
    const doc = await h().get("ledger");
    return { state: doc?.value as LedgerState, version: doc?.version ?? 0 };
  };
  const write = async (state: LedgerState, version: number) => {
    const result = await h().put("ledger", state, version);
    if (result.affected === 0)
      throw new StoreError("conflict", "The ledger moved on; nothing was written.");
  };
  return {
    async hold(id, from, amount, key) {
      const { state, version } = await read();
      const existing = state.holds[id];
      if (existing !== undefined) return mine(existing, key);
      const balance = state.balances[from] ?? 0;
      if (balance < amount) throw insufficient(from, amount);
      const hold: Hold = { from, amount, key, status: "held" };
      await write(
        {
          balances: { ...state.balances, [from]: balance - amount },
          holds: { ...state.holds, [id]: hold },
        },
        version,
      );
      return hold;
    },
    find: async (id) => (await read()).state.holds[id],
    async release(id, key, guarded) {
      const { state, version } = await read();
      const hold = state.holds[id];
      if (hold === undefined) return "absent";
      if (guarded && !stillOurs(hold, key)) return "guard_failed";
      const { [id]: _released, ...holds } = state.holds;
      await write(
        {
          balances: {
            ...state.balances,
            [hold.from]: (state.balances[hold.from] ?? 0) + hold.amount,
          },
          holds,
        },
        // Unguarded, it writes over whatever is there now.
        guarded ? version : (await read()).version,
      );
      return "released";
    },
    async capture(id, to) {
      const { state, version } = await read();
      const hold = state.holds[id];
      if (hold?.status !== "held") return false;
      await write(
        {
          balances: { ...state.balances, [to]: (state.balances[to] ?? 0) + hold.amount },
          holds: { ...state.holds, [id]: { ...hold, status: "captured" } },
        },
        version,
      );
      return true;
    },
  };
}

/** The hold is ours (an earlier attempt of this very step placed it), or someone else's: a conflict. */
function mine(hold: Hold, key: string): Hold {
  if (hold.key !== key) throw new StoreError("conflict", "Another saga holds this id.");
  return hold;
}

function stillOurs(hold: Hold, key: string): boolean {
  return hold.key === key && hold.status === "held";
}

async function balanceIn(h: MemoryHandle, account: string): Promise<number> {
  return ((await h.get(`bal:${account}`))?.value as { balance: number } | undefined)?.balance ?? 0;
}

function insufficient(from: string, amount: number): StoreError {
  return new StoreError("not_committed", `Account ${from} cannot cover ${amount}.`);
}
