/**
 * Testing a saga of your own with lockstep/testing: a transfer that debits a wallet, credits a
 * ledger (the point of no return) and writes a receipt, checked at every crash point and under
 * hundreds of seeded fault schedules. docs/testing.md walks through it; test/testing runs it.
 */

import {
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "lockstep";
import { createMemoryStore, type MemoryStore } from "lockstep/memory";
import {
  allOrNothing,
  assertCrashPoints,
  assertSimulation,
  defineInvariant,
} from "lockstep/testing";
import { z } from "zod";

/** Alice's wallet: one document, so a debit and its record change together by compare-and-set. */
interface Wallet {
  readonly balance: number;
  readonly debits: Readonly<Record<string, { readonly amount: number; readonly key: string }>>;
}

/** What setup returns: fresh stores, under `stores`, for every explored schedule. */
export interface Bank {
  readonly stores: { readonly wallet: MemoryStore; readonly ledger: MemoryStore };
}

export const OPENING_BALANCE = 100;

/** Fresh stores with Alice's opening balance. */
export function openBank(): Bank {
  const wallet: Wallet = { balance: OPENING_BALANCE, debits: {} };
  return {
    stores: {
      wallet: createMemoryStore({ id: "wallet", tier: "plain", seed: { alice: wallet } }),
      ledger: createMemoryStore({ id: "ledger", tier: "plain" }),
    },
  };
}

const input = z.object({ transferId: z.string(), amount: z.number().int().positive() });
const debited = z.object({ amount: z.number() });
const credited = z.object({ version: z.number() });
const receipt = z.object({ receipt: z.string() });

/** The saga, built from the stores it is given: the kit hands it wrapped ones. */
export function transferSaga({ stores }: Bank) {
  return defineSaga("transfer", { input })
    .step("debit", {
      store: stores.wallet,
      kind: "compensatable",
      output: debited,
      execute: async ({ input, key, handle }) => {
        const doc = await handle.get("alice");
        const wallet = doc?.value as Wallet;
        if (wallet.debits[input.transferId]?.key === key) return { amount: input.amount };
        if (wallet.balance < input.amount) {
          throw new StoreError("not_committed", `Alice cannot cover ${input.amount}.`);
        }
        const next: Wallet = {
          balance: wallet.balance - input.amount,
          debits: { ...wallet.debits, [input.transferId]: { amount: input.amount, key } },
        };
        const put = await handle.put("alice", next, doc?.version);
        if (put.affected === 0) throw new StoreError("conflict", "The wallet moved on.");
        return { amount: input.amount };
      },
      probe: async ({ input, key, handle }) => {
        const wallet = (await handle.get("alice"))?.value as Wallet;
        return wallet.debits[input.transferId]?.key === key
          ? committed({ amount: input.amount })
          : notCommitted();
      },
      compensate: async ({ input, key, handle }) => {
        const doc = await handle.get("alice");
        const wallet = doc?.value as Wallet;
        const debit = wallet.debits[input.transferId];
        if (debit === undefined) return compensated();
        if (debit.key !== key) return guardFailed(`debit ${input.transferId} is not ours`);
        const { [input.transferId]: _undone, ...debits } = wallet.debits;
        const put = await handle.put(
          "alice",
          { balance: wallet.balance + debit.amount, debits },
          doc?.version,
        );
        if (put.affected === 0) throw new StoreError("conflict", "The wallet moved on; retry.");
        return compensated();
      },
    })
    .step("credit", {
      store: stores.ledger,
      kind: "pivot",
      output: credited,
      execute: async ({ input, key, handle }) => {
        const put = await handle.put(
          `credit:${input.transferId}`,
          { to: "bob", amount: input.amount, key },
          "absent",
        );
        if (put.affected === 1) return { version: put.version ?? 0 };
        const doc = await handle.get(`credit:${input.transferId}`);
        if ((doc?.value as { key?: string } | undefined)?.key === key) {
          return { version: doc?.version ?? 0 };
        }
        throw new StoreError(
          "conflict",
          `Transfer ${input.transferId} was credited by another saga.`,
        );
      },
      probe: async ({ input, key, handle }) => {
        const doc = await handle.get(`credit:${input.transferId}`);
        return (doc?.value as { key?: string } | undefined)?.key === key
          ? committed({ version: doc?.version ?? 0 })
          : notCommitted();
      },
    })
    .step("receipt", {
      store: stores.ledger,
      kind: "retriable",
      output: receipt,
      // Keyed by the transfer: running it again after a crash rewrites the same receipt.
      execute: async ({ input, key, handle }) => {
        await handle.put(`receipt:${input.transferId}`, { key });
        return { receipt: `receipt:${input.transferId}` };
      },
    })
    .build();
}

const wallet = (bank: Bank) => bank.stores.wallet.snapshot().alice?.value as Wallet;
const ledger = (bank: Bank) => bank.stores.ledger.snapshot();
const creditsIn = (bank: Bank) =>
  Object.entries(ledger(bank))
    .filter(([key]) => key.startsWith("credit:"))
    .reduce((sum, [, doc]) => sum + (doc.value as { amount: number }).amount, 0);
const transferOf = (saga: { record: { input: unknown } } | undefined) =>
  (saga?.record.input as { transferId?: string } | undefined)?.transferId ?? "t-1";

/** What must hold after every recovery, judged from the stores alone. */
export const transferInvariants = [
  allOrNothing<Bank>({
    debit: (bank, saga) => wallet(bank).debits[transferOf(saga)] !== undefined,
    credit: (bank, saga) => ledger(bank)[`credit:${transferOf(saga)}`] !== undefined,
    receipt: (bank, saga) => ledger(bank)[`receipt:${transferOf(saga)}`] !== undefined,
  }),
  defineInvariant<Bank>("money is conserved", (context) => {
    const total = wallet(context.world).balance + creditsIn(context.world);
    return total === OPENING_BALANCE ? undefined : `Alice and Bob hold ${total}, not 100.`;
  }),
];

/** The scenario every tool of the kit takes. */
export const transferScenario = {
  setup: openBank,
  saga: transferSaga,
  input: { transferId: "t-1", amount: 30 },
  invariants: transferInvariants,
  // Memory-store reads change nothing: faults hit them, but they are no crash points.
  reads: ["get", "list"],
};

/**
 * Crashes the transfer at every durable boundary (and its recovery at every one of its own), then
 * runs 500 seeded fault schedules; throws a LockstepTestFailure naming the schedule or seed of any
 * violation.
 */
export async function testTransfer() {
  const crashes = await assertCrashPoints(transferScenario);
  const simulation = await assertSimulation({ ...transferScenario, schedules: 500 });
  return { crashes, simulation };
}
