import { z } from "zod";
import type { FetchFunction } from "../../../src/adapters/http/index.js";
import {
  type HttpApiClient,
  type HttpApiStore,
  httpApiStore,
  probeByKey,
} from "../../../src/adapters/http-api/index.js";
import { createMemoryStore, type MemoryStore } from "../../../src/adapters/memory/index.js";
import { committed, compensated, defineSaga, notCommitted, StepKind } from "../../../src/index.js";

export const WINDOW_MS = 60_000;

const chargeSchema = z.object({ id: z.string(), amount: z.number() });

/** The stores of the checkout saga. */
export interface Checkout {
  readonly stock: MemoryStore;
  readonly payments: HttpApiStore;
}

/** The stores, the payments one on `baseUrl`, sending through `options.fetch` when given. */
export function checkoutStores(
  baseUrl: string,
  options: { readonly fetch?: FetchFunction } = {},
): Checkout {
  return {
    stock: createMemoryStore({ tier: "plain", id: "memory:stock" }),
    payments: httpApiStore({
      id: "payments",
      baseUrl,
      keyWindowMs: WINDOW_MS,
      timeoutMs: 2_000,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    }),
  };
}

/** How the charge step is probed and run. */
export interface ChargeOptions {
  /** Whether the probe may query charges by metadata after the window. @default true */
  readonly byQuery?: boolean;
  /** Run the charge as a retriable step without a probe, idempotent by its key. @default false */
  readonly retriableByKey?: boolean;
}

/**
 * reserve stock (memory, compensatable) → charge the card (HTTP API, the pivot; the charge carries
 * the step key in its metadata, probed by key, then by metadata query) → confirm (memory).
 */
export function checkoutSaga(world: Checkout, options: ChargeOptions = {}) {
  type Charge = z.input<typeof chargeSchema>;
  const base = defineSaga("checkout", {
    input: z.object({ order: z.string(), amount: z.number().int().positive() }),
  }).step("reserve", {
    store: world.stock,
    kind: StepKind.Compensatable,
    output: z.object({ hold: z.string() }),
    execute: async ({ input, handle }) => {
      await handle.put(`hold:${input.order}`, { order: input.order });
      return { hold: `hold:${input.order}` };
    },
    probe: async ({ input, handle }) =>
      (await handle.get(`hold:${input.order}`))
        ? committed({ hold: `hold:${input.order}` })
        : notCommitted(),
    compensate: async ({ handle, output }) => {
      await handle.delete(output.hold);
      return compensated();
    },
  });
  const charge = {
    store: world.payments,
    output: chargeSchema,
    execute: async ({
      handle,
      key,
      input,
    }: {
      handle: HttpApiClient;
      key: string;
      input: { order: string; amount: number };
    }) =>
      (
        await handle.send({
          path: "v1/charges",
          body: { amount: input.amount, metadata: { lockstep_key: key, order: input.order } },
        })
      ).body as Charge,
  };
  const charged = options.retriableByKey
    ? base.step("charge", { ...charge, kind: StepKind.Retriable, idempotent: true })
    : base.step("charge", {
        ...charge,
        kind: StepKind.Pivot,
        probe: probeByKey({
          byKey: async ({ handle, key }) =>
            (await handle.get(`v1/charges/by-key/${key}`))?.body as Charge | undefined,
          ...(options.byQuery === false
            ? {}
            : {
                byQuery: async ({ handle, key }) => {
                  const found = await handle.get("v1/charges/search", {
                    query: { metadata_key: key },
                  });
                  return (found?.body as { data: Charge[] } | undefined)?.data[0];
                },
              }),
        }),
      });
  return charged
    .step("confirm", {
      store: world.stock,
      kind: StepKind.Retriable,
      idempotent: true,
      output: z.object({ order: z.string() }),
      execute: async ({ input, handle }) => {
        await handle.put(`order:${input.order}`, { status: "confirmed" });
        return { order: input.order };
      },
    })
    .build();
}
