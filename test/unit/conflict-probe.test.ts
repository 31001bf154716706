import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, type MemoryStore } from "../../src/adapters/memory/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  notCommitted,
  type SagaEvent,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

/** What another writer does between the `complete` step's read and its compare-and-set. */
type Meanwhile = (store: MemoryStore) => Promise<void>;

/** What the `complete` step's probe reports when it finds the order completed. */
let probedOutput: unknown = { status: "completed" };

/**
 * pay (pivot) then complete (retriable, with a probe): complete moves `order:1` from `paid` to
 * `completed` with a compare-and-set on the version it read; `meanwhile` runs between the two.
 */
function orderSaga(store: MemoryStore, meanwhile: Meanwhile, probes: { count: number }) {
  return defineSaga("order", { input: z.object({ id: z.string() }) })
    .step("pay", {
      store,
      kind: "pivot",
      output: z.object({ paid: z.boolean() }),
      execute: async ({ handle }) => {
        const doc = await handle.get("order:1");
        await handle.put("order:1", { status: "paid" }, doc?.version ?? "absent");
        return { paid: true };
      },
      probe: async ({ handle }) =>
        (await handle.get("order:1")) === undefined ? notCommitted() : committed({ paid: true }),
    })
    .step("complete", {
      store,
      kind: "retriable",
      output: z.object({ status: z.literal("completed") }),
      execute: async ({ handle }) => {
        const doc = await handle.get("order:1");
        await meanwhile(store);
        const put = await handle.put("order:1", { status: "completed" }, doc?.version ?? -1);
        if (put.affected === 0) {
          throw new StoreError("conflict", "Order 1 changed since it was read.");
        }
        return { status: "completed" as const };
      },
      probe: async ({ handle }) => {
        probes.count++;
        const doc = await handle.get("order:1");
        return (doc?.value as { status?: string } | undefined)?.status === "completed"
          ? committed(probedOutput as { status: "completed" })
          : notCommitted();
      },
    })
    .build();
}

async function run(meanwhile: Meanwhile) {
  const clock = new VirtualClock();
  const store = createMemoryStore({ id: "orders", tier: "plain" });
  const events: SagaEvent[] = [];
  const probes = { count: 0 };
  const runner = createRunner({ clock, onEvent: (e) => events.push(e), random: () => 0.5 });
  const result = await clock.run(runner.run(orderSaga(store, meanwhile, probes), { id: "o-1" }));
  return { result, store, events, probes };
}

const completeFirst: Meanwhile = async (store) => {
  const doc = await store.handle.get("order:1");
  await store.handle.put("order:1", { status: "completed" }, doc?.version);
};

describe("a retriable step whose compare-and-set loses a conflict", () => {
  afterEach(() => {
    probedOutput = { status: "completed" };
  });

  it("is probed at once and, when the world already holds its effect, committed: the saga completes", async () => {
    // Another runner (a retry of the same request, a reconciler) makes the very same change first.
    const { result, events, probes } = await run(completeFirst);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(report.steps[1]).toMatchObject({
      name: "complete",
      status: "committed",
      committedVia: "probe",
      attempts: 1,
    });
    expect(report.outputs.complete).toEqual({ status: "completed" });
    expect(probes.count).toBe(1);
    expect(
      events
        .filter((e) => "step" in e && e.step === "complete")
        .map((e) => (e.type === "step.probed" ? `${e.type}:${e.result}` : e.type)),
    ).toEqual(["step.started", "step.probed:committed", "step.committed"]);
  });

  it("keeps today's ending when the probe finds the effect absent: another change won", async () => {
    const { result, probes, events } = await run(async (store) => {
      const doc = await store.handle.get("order:1");
      await store.handle.put("order:1", { status: "refunded" }, doc?.version);
    });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Incomplete);
    if (error.code !== ErrorCode.Incomplete) return;
    expect(error.step).toBe("complete");
    expect(error.report.steps[1]).toMatchObject({
      status: "not_committed",
      error: { kind: "conflict" },
    });
    expect(probes.count).toBe(1);
    expect(events.filter((e) => e.type === "step.not_committed")).toHaveLength(1);
  });

  it("ends needs_attention when what the probe reads back fails the step's schema", async () => {
    probedOutput = { status: "done" };
    const { result, probes } = await run(completeFirst);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    if (error.code !== ErrorCode.NeedsAttention) return;
    expect(error.step).toBe("complete");
    expect(error.reason).toBe("invalid_output");
    expect(probes.count).toBe(1);
  });
});

describe("a compensatable step whose compare-and-set loses a conflict", () => {
  it("is not read back: before the point of no return a conflict is a refusal, and the saga unwinds", async () => {
    const clock = new VirtualClock();
    const store = createMemoryStore({ id: "funds", tier: "plain" });
    let probed = 0;
    const saga = defineSaga("hold", { input: z.object({}) })
      .step("hold", {
        store,
        kind: "compensatable",
        output: z.object({ held: z.boolean() }),
        execute: async () => {
          throw new StoreError("conflict", "The hold was taken by another writer.");
        },
        probe: async () => {
          probed++;
          return committed({ held: true });
        },
        compensate: async () => compensated(),
      })
      .step("charge", {
        store,
        kind: "pivot",
        output: z.object({}),
        execute: () => ({}),
        probe: () => committed({}),
      })
      .build();
    const runner = createRunner({ clock });
    const error = (await clock.run(runner.run(saga, {})))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code === ErrorCode.StepFailed) expect(error.kind).toBe("conflict");
    expect(probed).toBe(0);
  });
});

describe("a retriable step refused for another reason than a conflict", () => {
  it("is not read back: a transient refusal or a plain not-committed is retried", async () => {
    for (const kind of ["transient", "not_committed"] as const) {
      const clock = new VirtualClock();
      const store = createMemoryStore({ id: "mail", tier: "plain" });
      let executes = 0;
      let probed = 0;
      const saga = defineSaga("notify", { input: z.object({}) })
        .step("send", {
          store,
          kind: "retriable",
          output: z.object({ sent: z.number() }),
          retry: {
            attempts: 2,
            initialDelayMs: 1,
            jitter: 0,
            retryOn: ["transient", "not_committed"],
          },
          execute: async () => {
            executes++;
            if (executes === 1) throw new StoreError(kind, "The mail server said no.");
            return { sent: executes };
          },
          probe: async () => {
            probed++;
            return committed({ sent: 0 });
          },
        })
        .build();
      const report = (
        await clock.run(createRunner({ clock, random: () => 0.5 }).run(saga, {}))
      )._unsafeUnwrap();
      expect(report.steps[0]).toMatchObject({ committedVia: "execute", attempts: 2 });
      expect(report.outputs.send).toEqual({ sent: 2 });
      expect(probed).toBe(0);
    }
  });
});
