import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunner, ErrorCode, type SagaEvent, SagaStatus } from "../../../src/index.js";
import {
  BOUNTY,
  type BountyOptions,
  bountySaga,
  bountyWorld,
  INPUT,
  type World,
} from "./bounty-saga.js";
import {
  type DocumentServer,
  type InstalledFault,
  startDocumentServer,
} from "./document-server.js";

describe("a document write request delayed in the network past its step's timeout (a live runner, no takeover)", () => {
  let server: DocumentServer;
  let world: World;
  let events: SagaEvent[];
  let delayed: InstalledFault;

  beforeEach(async () => {
    server = await startDocumentServer();
    world = bountyWorld(server.baseUrl);
    events = [];
    // The service receives the bounty write but applies it only when the test releases it.
    delayed = server.fault({
      method: "PUT",
      pathPrefix: "bounties/",
      action: { type: "hold-before-apply" },
    });
  });
  afterEach(async () => {
    await server.close();
  });

  const run = (options: BountyOptions) =>
    createRunner({ onEvent: (event) => events.push(event) }).run(
      bountySaga(world, { ...options, timeoutMs: 300 }),
      INPUT,
    );
  const probes = () =>
    events.flatMap((e) =>
      e.type === "step.probed" && e.step === "createBounty" ? [e.result] : [],
    );

  it("is refused when it arrives after the probe found nothing and the saga was compensated", async () => {
    const result = await run({ attempts: 1, guarded: true });
    expect(delayed.fired(), "the write request must really have been held in flight").toBe(1);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.StepFailed);
    if (error.code !== ErrorCode.StepFailed) return;
    expect(error.report.status).toBe(SagaStatus.Compensated);
    expect(error.report.steps.map((s) => s.status)).toEqual([
      "compensated",
      "not_committed",
      "skipped",
    ]);
    expect(probes(), "the probe ran while the request was in flight").toEqual(["not_committed"]);
    expect(world.compensations, "a write that never landed is never undone").toEqual(["reserve"]);

    // The request now reaches the service, after the saga ended.
    delayed.release();
    expect(delayed.statuses(), "the service refuses the late request as fenced").toEqual([409]);
    expect(server.document(BOUNTY), "the late request must have no effect").toBeUndefined();
    expect(server.document("_index/status/bounties/b1")).toBeUndefined();
    expect(world.credits.snapshot()["res:b1"]).toBeUndefined();
  });

  it("is refused when it arrives after a retry committed: the document stays the one the saga reports", async () => {
    const result = await run({ attempts: 2, guarded: false });
    expect(delayed.fired()).toBe(1);
    expect(result.isOk(), JSON.stringify(result)).toBe(true);
    const report = result._unsafeUnwrap();
    expect(report.status).toBe(SagaStatus.Completed);
    const step = report.steps.find((s) => s.name === "createBounty");
    expect(step?.attempts, "the first attempt was given up on and the second committed").toBe(2);
    expect(probes()).toEqual(["not_committed"]);
    const landed = server.document(BOUNTY);
    expect(landed?.body).toMatchObject({ attempt: 2 });
    expect(report.outputs.createBounty.etag).toBe(landed?.etag);

    // Unguarded, the late first attempt would overwrite the committed document.
    delayed.release();
    expect(delayed.statuses()).toEqual([409]);
    expect(server.document(BOUNTY), "the store holds exactly what the saga says").toEqual(landed);
    expect(world.compensations).toEqual([]);
  });
});
