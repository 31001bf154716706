import { z } from "zod";
import {
  cannotTell,
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "../../../src/index.js";
import {
  allOrNothing,
  createMemoryStore,
  defineInvariant,
  type Invariant,
  type MemoryStore,
  type MemoryTier,
} from "../../../src/testing/index.js";
import { type Hold, ledgerOf, ledgerSeed, ledgerState, ledgerTotal } from "./ledger.js";

/** Every tier, so each suite runs the same checkout under each. */
export const TIERS: readonly MemoryTier[] = ["transactional", "batch", "plain"];

/** What setup returns: three stores of one tier, and a counter the unkeyed flaw uses. */
export interface CheckoutWorld {
  readonly tier: MemoryTier;
  readonly stores: {
    readonly funds: MemoryStore;
    readonly stock: MemoryStore;
    readonly orders: MemoryStore;
  };
  /** Incremented by the flawed notify step to name its notice; shared by every view of the world. */
  readonly sequence: { value: number };
}

/** A deliberate bug, to show that the kit catches it. */
export type Flaw =
  /** The pivot's probe always says "not committed", so an unknown outcome is compensated. */
  | "lying_probe"
  /** The hold's compensation releases whatever it finds, even a hold someone captured since. */
  | "unguarded_compensation"
  /** The retriable notify step names its notice without the idempotency key, so a retry duplicates. */
  | "unkeyed_notify";

export const CREDITS = 100;
export const UNITS = 5;
export const INPUT = { orderId: "o-1", amount: 30, units: 2 };

/** Fresh stores of one tier: alice's credits, the warehouse's widgets, no orders. */
export function checkoutWorld(tier: MemoryTier): CheckoutWorld {
  return {
    tier,
    stores: {
      funds: createMemoryStore({
        id: `funds:${tier}`,
        tier,
        seed: ledgerSeed(tier, { alice: CREDITS, merchant: 0 }),
      }),
      stock: createMemoryStore({
        id: `stock:${tier}`,
        tier,
        seed: ledgerSeed(tier, { warehouse: UNITS, shipped: 0 }),
      }),
      orders: createMemoryStore({ id: `orders:${tier}`, tier }),
    },
    sequence: { value: 0 },
  };
}

// Schemas are built once: the kit builds the saga once per simulated process.
const checkoutInput = z.object({
  orderId: z.string(),
  amount: z.number().int().positive(),
  units: z.number().int().positive(),
});
const heldOutput = z.object({ amount: z.number() });
const confirmOutput = z.object({ version: z.number() });
const notifyOutput = z.object({ notice: z.string() });

/**
 * The example saga: hold the credits (compensatable, on funds), allocate the widgets
 * (compensatable, on stock), confirm the order (pivot, on orders), notify (retriable, on orders).
 * Each step is one atomic write in its store's tier, idempotent by the step's key, probed by a
 * fresh read, and compensated under a guard.
 */
export function checkoutSaga(world: CheckoutWorld, flaw?: Flaw) {
  const { funds, stock, orders } = world.stores;
  const credits = ledgerOf(funds);
  const widgets = ledgerOf(stock);
  const probeHold =
    (ledger: typeof credits) => async (ctx: { input: { orderId: string }; key: string }) => {
      const hold = await ledger.find(ctx.input.orderId);
      return hold?.key === ctx.key ? committed({ amount: hold.amount }) : notCommitted();
    };
  return defineSaga("checkout", { input: checkoutInput })
    .step("hold", {
      store: funds,
      kind: "compensatable",
      output: heldOutput,
      retry: { attempts: 3, initialDelayMs: 10 },
      execute: async ({ input, key, signal, deadline }) => {
        const hold = await credits.hold(input.orderId, "alice", input.amount, key, {
          signal,
          deadline,
        });
        return { amount: hold.amount };
      },
      probe: probeHold(credits),
      compensate: async ({ input, key, signal, deadline }) => {
        const released = await credits.release(
          input.orderId,
          key,
          flaw !== "unguarded_compensation",
          {
            signal,
            deadline,
          },
        );
        return released === "guard_failed"
          ? guardFailed(`hold ${input.orderId} is no longer ours to release`)
          : compensated();
      },
    })
    .step("allocate", {
      store: stock,
      kind: "compensatable",
      output: heldOutput,
      retry: { attempts: 3, initialDelayMs: 10 },
      execute: async ({ input, key, signal, deadline }) => {
        const hold = await widgets.hold(input.orderId, "warehouse", input.units, key, {
          signal,
          deadline,
        });
        return { amount: hold.amount };
      },
      probe: probeHold(widgets),
      compensate: async ({ input, key, signal, deadline }) => {
        const released = await widgets.release(input.orderId, key, true, { signal, deadline });
        return released === "guard_failed"
          ? guardFailed(`allocation ${input.orderId} is no longer ours to release`)
          : compensated();
      },
    })
    .step("confirm", {
      store: orders,
      kind: "pivot",
      output: confirmOutput,
      retry: { attempts: 2, initialDelayMs: 10 },
      execute: async ({ input, key, handle }) => {
        const put = await handle.put(
          `order:${input.orderId}`,
          { key, amount: input.amount },
          "absent",
        );
        if (put.affected === 1) return { version: put.version ?? 0 };
        const existing = await handle.get(`order:${input.orderId}`);
        if ((existing?.value as { key?: string } | undefined)?.key === key) {
          return { version: existing?.version ?? 0 };
        }
        throw new StoreError("conflict", `Order ${input.orderId} belongs to another saga.`);
      },
      probe: async ({ input, key, handle }) => {
        if (flaw === "lying_probe") return notCommitted();
        const doc = await handle.get(`order:${input.orderId}`);
        if (doc === undefined) return notCommitted();
        return (doc.value as { key?: string }).key === key
          ? committed({ version: doc.version })
          : cannotTell("the order belongs to another saga");
      },
    })
    .step("notify", {
      store: orders,
      kind: "retriable",
      output: notifyOutput,
      retry: { attempts: 5, initialDelayMs: 10 },
      execute: async ({ input, key, handle }) => {
        const notice =
          flaw === "unkeyed_notify"
            ? `notice:${input.orderId}:${++world.sequence.value}`
            : `notice:${input.orderId}`;
        await handle.put(notice, { orderId: input.orderId, key });
        return { notice };
      },
    })
    .build();
}

const holdIn = (store: MemoryStore, id: string): Hold | undefined => ledgerState(store).holds[id];
const orderOf = (saga: { record: { input: unknown } } | undefined) =>
  (saga?.record.input as { orderId?: string } | undefined)?.orderId ?? INPUT.orderId;

/** The checkout's invariants, judged from the stores alone. */
export function checkoutInvariants(): Invariant<CheckoutWorld>[] {
  return [
    allOrNothing<CheckoutWorld>({
      credits: (w, saga) => holdIn(w.stores.funds, orderOf(saga)) !== undefined,
      widgets: (w, saga) => holdIn(w.stores.stock, orderOf(saga)) !== undefined,
      order: (w, saga) => w.stores.orders.snapshot()[`order:${orderOf(saga)}`] !== undefined,
      notice: (w, saga) => notices(w, orderOf(saga)) > 0,
    }),
    defineInvariant<CheckoutWorld>("credits and widgets are conserved", ({ world }) => {
      const problems: string[] = [];
      const credits = ledgerTotal(ledgerState(world.stores.funds));
      const units = ledgerTotal(ledgerState(world.stores.stock));
      if (credits !== CREDITS) problems.push(`The credits add up to ${credits}, not ${CREDITS}.`);
      if (units !== UNITS) problems.push(`The widgets add up to ${units}, not ${UNITS}.`);
      return problems;
    }),
    defineInvariant<CheckoutWorld>("one notice per order", ({ world }) => {
      const count = notices(world, INPUT.orderId);
      return count > 1 ? `Order ${INPUT.orderId} has ${count} notices.` : undefined;
    }),
  ];
}

function notices(world: CheckoutWorld, orderId: string): number {
  return Object.keys(world.stores.orders.snapshot()).filter(
    (k) => k === `notice:${orderId}` || k.startsWith(`notice:${orderId}:`),
  ).length;
}

/** Makes every order write fail before it lands, refused: drives the checkout down its compensating path. */
export const ORDERS_REFUSE = {
  seed: 1,
  rules: [{ site: "orders:*.handle.put", kind: "fail_before", errorKind: "not_committed" }],
} as const;

/** Another writer: a settlement job capturing alice's hold for the merchant. */
export async function captureHold(world: CheckoutWorld): Promise<void> {
  const scope = { signal: new AbortController().signal, deadline: Number.MAX_SAFE_INTEGER };
  await ledgerOf(world.stores.funds).capture(INPUT.orderId, "merchant", scope);
}

/** How many seeded schedules each tier's simulation runs: three tiers make at least 10,000. */
export const SCHEDULES_PER_TIER = 3_334;

/**
 * Each tier's schedules run in this many test cases, each from its own seed, so that no case comes
 * near the per-test time limit on a loaded machine.
 */
export const PARTS_PER_TIER = 8;

/** The checkout as the simulator runs it: two concurrent orders, short deadlines and leases. */
export function simulatedCheckout(tier: MemoryTier, flaw?: Flaw) {
  return {
    setup: () => checkoutWorld(tier),
    saga: (world: CheckoutWorld) => checkoutSaga(world, flaw),
    input: (_world: CheckoutWorld, run: number) => ({ ...INPUT, orderId: `o-${run + 1}` }),
    runs: 2,
    invariants: checkoutInvariants(),
    reads: ["get", "list"],
    timeoutMs: 1_000,
    leaseTtlMs: 5_000,
  };
}
