import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { HttpStoreError } from "../../../src/adapters/http/index.js";
import {
  classifyError,
  createRunner,
  ErrorCode,
  type SagaEvent,
  SagaStatus,
  StoreError,
} from "../../../src/index.js";
import { injectFault } from "../../support/faults.js";
import { BOUNTY, bountySaga, bountyWorld, INPUT, type World } from "./bounty-saga.js";
import { type DocumentServer, startDocumentServer } from "./document-server.js";

describe("an HTTP document write inside a saga", () => {
  let server: DocumentServer;
  let world: World;

  beforeEach(async () => {
    server = await startDocumentServer();
    world = bountyWorld(server.baseUrl);
  });
  afterEach(async () => {
    await server.close();
  });

  let events: SagaEvent[];
  const run = () => {
    events = [];
    return createRunner({ onEvent: (event) => events.push(event) }).run(bountySaga(world), INPUT);
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
