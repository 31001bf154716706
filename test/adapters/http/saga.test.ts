import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type HttpDocumentStore,
  type HttpStoreError,
  httpDocumentStore,
} from "../../../src/adapters/http/index.js";
import { createMemoryStore, type MemoryStore } from "../../../src/adapters/memory/index.js";
import {
  classifyError,
  committed,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  guardFailed,
  notCommitted,
  type SagaEvent,
  SagaStatus,
  StepKind,
  StoreError,
} from "../../../src/index.js";
import { injectFault } from "../../support/faults.js";
import { type DocumentServer, startDocumentServer } from "./document-server.js";

interface World {
  readonly credits: MemoryStore;
  readonly bounties: HttpDocumentStore;
  /** The steps whose compensation ran, in order. */
  readonly compensations: string[];
  /** What createBounty's execute threw, in order. */
  readonly failures: unknown[];
}

const INPUT = { bountyId: "b1", amount: 25 };
const BOUNTY = "bounties/b1";

/**
 * reserve credits (memory, compensatable) → create the bounty document with If-None-Match: *
 * (HTTP, compensatable, probed by reading the document for this step's key) → activate (memory,
 * the pivot).
 */
function createBountySaga(world: World) {
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
      retry: { attempts: 1 },
      execute: async ({ input, handle, key, signal }) => {
        try {
          const { etag } = await handle.put(
            `bounties/${input.bountyId}`,
            { status: "open", amount: input.amount, createdBy: key },
            { ifNoneMatch: "*", signal },
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

describe("an HTTP document write inside a saga", () => {
  let server: DocumentServer;
  let world: World;

  beforeEach(async () => {
    server = await startDocumentServer();
    world = {
      credits: createMemoryStore({ tier: "plain", id: "memory:credits" }),
      bounties: httpDocumentStore({ baseUrl: server.baseUrl, statusIndex: { field: "status" } }),
      compensations: [],
      failures: [],
    };
  });
  afterEach(async () => {
    await server.close();
  });

  let events: SagaEvent[];
  const run = () => {
    events = [];
    return createRunner({ onEvent: (event) => events.push(event) }).run(
      createBountySaga(world),
      INPUT,
    );
  };
  const eventsOf = (step: string) =>
    events.flatMap((e) =>
      "step" in e && e.step === step
        ? [e.type === "step.probed" ? `${e.type}:${e.result}` : e.type]
        : [],
    );

  it("applied but with its response dropped is recognised by the probe as committed, and not compensated", async () => {
    const fault = server.fault({
      method: "PUT",
      pathPrefix: "bounties/",
      action: { type: "drop-after-apply" },
    });
    const result = await run();
    expect(fault.fired(), "the response must really have been dropped").toBe(1);
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    const step = report.steps.find((s) => s.name === "createBounty");
    expect(step?.status).toBe("committed");
    expect(step?.committedVia, "the commit was learned from the probe, not from execute").toBe(
      "probe",
    );
    expect(step?.attempts, "a committed write is not executed again").toBe(1);
    expect(
      world.failures.map((e) => classifyError(e)),
      "execute saw the dropped response",
    ).toEqual(["unknown"]);
    expect(eventsOf("createBounty")).toEqual([
      "step.started",
      "step.unknown",
      "step.probed:committed",
      "step.committed",
    ]);
    expect(world.compensations, "no compensation may undo a committed write").toEqual([]);
    expect(events.some((e) => e.type === "compensation.started")).toBe(false);
    expect(report.outputs.createBounty.etag).toBe(server.document(BOUNTY)?.etag);
    expect(server.document(BOUNTY)?.body).toMatchObject({ status: "open", amount: 25 });
    expect(world.credits.snapshot()["res:b1"], "the reservation must stay live").toBeDefined();
    expect(server.requests.filter((r) => r.startsWith("DELETE"))).toEqual([]);
  });

  it("committed while its status-index write failed is committed via the probe, not compensated, and the index is repairable", async () => {
    const fault = server.fault({
      method: "PUT",
      pathPrefix: "_index/",
      action: { type: "fail-before-apply" },
    });
    const result = await run();
    expect(fault.fired()).toBe(1);
    const report = result._unsafeUnwrap();
    const step = report.steps.find((s) => s.name === "createBounty");
    expect(step?.committedVia).toBe("probe");
    expect(world.failures).toHaveLength(1);
    const failure = world.failures[0] as HttpStoreError;
    expect(failure.documentCommitted, "the call failed although the document committed").toBe(true);
    expect(classifyError(failure)).toBe("unknown");
    expect(eventsOf("createBounty")).toContain("step.probed:committed");
    expect(world.compensations).toEqual([]);
    expect(server.document(BOUNTY)?.body).toMatchObject({ status: "open" });
    expect(server.document("_index/status/bounties/b1"), "the marker write failed").toBeUndefined();
    // I8: the recovery pass repairs the secondary index from the authoritative document.
    await world.bounties.handle.index?.sync(BOUNTY);
    expect(await world.bounties.handle.index?.read(BOUNTY)).toMatchObject({
      value: "open",
      etag: server.document(BOUNTY)?.etag,
    });
  });

  it("failing before it applied is found not committed by the probe: only the earlier step is compensated", async () => {
    const fault = server.fault({
      method: "PUT",
      pathPrefix: "bounties/",
      action: { type: "fail-before-apply" },
    });
    const result = await run();
    expect(fault.fired()).toBe(1);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.report.status).toBe(SagaStatus.Compensated);
    expect(error.report.steps.map((s) => s.status)).toEqual([
      "compensated",
      "not_committed",
      "skipped",
    ]);
    expect(world.compensations, "a write that never landed is never undone").toEqual(["reserve"]);
    expect(server.document(BOUNTY)).toBeUndefined();
    expect(world.credits.snapshot()["res:b1"]).toBeUndefined();
  });

  it("applied with its response dropped, then a later step fails: it is compensated once, guarded by the probed ETag", async () => {
    server.fault({ method: "PUT", pathPrefix: "bounties/", action: { type: "drop-after-apply" } });
    const fault = injectFault(
      world.credits,
      { phase: "before", keyPrefix: "active:" },
      { type: "throw", error: new StoreError("not_committed", "activation refused") },
    );
    const result = await run();
    expect(fault.fired()).toBe(1);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.report.steps.map((s) => s.status)).toEqual([
      "compensated",
      "compensated",
      "not_committed",
    ]);
    expect(world.compensations).toEqual(["createBounty", "reserve"]);
    expect(server.document(BOUNTY), "the bounty that did land is removed").toBeUndefined();
    expect(server.document("_index/status/bounties/b1")).toBeUndefined();
  });
});
