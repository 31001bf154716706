import { z } from "zod";
import { createMemoryStore } from "../../../src/adapters/memory/index.js";
import {
  cannotTell,
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "../../../src/index.js";

/** What the next call of each step does; every switch is off by default. */
export interface Switches {
  /** `charge` refuses: not committed. */
  chargeRefused: boolean;
  /** `charge` writes, then throws as if its response were lost. */
  chargeLost: boolean;
  /** The probe of `charge` cannot tell. */
  chargeProbeBlind: boolean;
  /** The probe of `charge` throws. */
  chargeProbeThrows: boolean;
  /** `notify` refuses (after the pivot): the saga is left for recovery. */
  notifyRefused: boolean;
  /** Resolves before each `hold` execute; lets a test interleave concurrent sagas. */
  beforeHold: (() => Promise<void>) | undefined;
}

/**
 * Three steps on three memory stores: `hold` (compensatable, guarded), `charge` (pivot, probed),
 * `notify` (retriable, no probe). Steps run with one attempt, so each test sees each call once.
 */
export function orderWorld() {
  const funds = createMemoryStore({ id: "memory:funds", tier: "plain" });
  const payments = createMemoryStore({ id: "memory:payments", tier: "plain" });
  const mail = createMemoryStore({ id: "memory:mail", tier: "plain" });
  const switches: Switches = {
    chargeRefused: false,
    chargeLost: false,
    chargeProbeBlind: false,
    chargeProbeThrows: false,
    notifyRefused: false,
    beforeHold: undefined,
  };
  const once = { attempts: 1 };
  const saga = defineSaga("order", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store: funds,
      kind: "compensatable",
      output: z.object({ version: z.number() }),
      retry: once,
      execute: async ({ input, handle, key }) => {
        await switches.beforeHold?.();
        const result = await handle.put(`hold:${input.id}`, { key }, "absent");
        return { version: result.version ?? 0 };
      },
      probe: async ({ input, handle, key }) => {
        const doc = await handle.get(`hold:${input.id}`);
        return (doc?.value as { key?: string } | undefined)?.key === key
          ? committed({ version: doc?.version ?? 0 })
          : notCommitted();
      },
      compensate: async ({ input, handle, output }) =>
        (await handle.delete(`hold:${input.id}`, output.version)).affected
          ? compensated()
          : guardFailed("the hold changed"),
    })
    .step("charge", {
      store: payments,
      kind: "pivot",
      output: z.object({ charged: z.literal(true) }),
      retry: once,
      execute: async ({ input, handle, key }) => {
        if (switches.chargeRefused) throw new StoreError("not_committed", "card declined");
        await handle.put(`charge:${input.id}`, { key });
        if (switches.chargeLost) throw new Error("socket hang up");
        return { charged: true as const };
      },
      probe: async ({ input, handle }) => {
        if (switches.chargeProbeThrows) throw new Error("payments API unreachable");
        if (switches.chargeProbeBlind) return cannotTell("the payments API is down");
        return (await handle.get(`charge:${input.id}`))
          ? committed({ charged: true as const })
          : notCommitted();
      },
    })
    .step("notify", {
      store: mail,
      kind: "retriable",
      output: z.object({ sent: z.boolean() }),
      retry: once,
      execute: async ({ input, handle }) => {
        if (switches.notifyRefused) throw new StoreError("not_committed", "mailbox full");
        await handle.put(`mail:${input.id}`, { sent: true });
        return { sent: true };
      },
    })
    .build();
  return { saga, switches, funds, payments, mail };
}
