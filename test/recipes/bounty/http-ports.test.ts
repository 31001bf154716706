import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type HttpDocumentStore, httpDocumentStore } from "../../../src/adapters/http/index.js";
import { LockstepDefinitionError, StoreError } from "../../../src/index.js";
import type { Bounty, BountyStore } from "../../../src/recipes/bounty/index.js";
import { httpBountyStore } from "../../../src/recipes/bounty/index.js";
import { type DocumentServer, startDocumentServer } from "../../adapters/http/document-server.js";

const NOW = 1_700_000_000_000;

function bountyOf(bountyId: string, reservationId = `r-${bountyId}`): Bounty {
  return {
    bountyId,
    title: "Fix the parser",
    amount: 30,
    creator: "alice",
    status: "open",
    deadline: NOW + 86_400_000,
    reservationId,
    createdAt: NOW,
    updatedAt: NOW,
    version: 1,
  };
}

/** The kind of the error `promise` rejects with. */
async function kindOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!StoreError.is(error)) throw new Error(`expected a StoreError, got ${String(error)}`);
  return error.kind;
}

describe("httpBountyStore on a real document server", () => {
  let server: DocumentServer;
  let documents: HttpDocumentStore;
  let bounties: BountyStore<HttpDocumentStore["handle"]>;
  const handle = () => documents.handle;

  beforeEach(async () => {
    server = await startDocumentServer();
    documents = httpDocumentStore({ baseUrl: server.baseUrl, statusIndex: { field: "status" } });
    bounties = httpBountyStore(documents);
  });
  afterEach(async () => {
    await server.close();
  });

  it("creates with If-None-Match: *, idempotently for the same reservation, and conflicts for another", async () => {
    expect(await bounties.create(handle(), bountyOf("b1"))).toEqual(bountyOf("b1"));
    expect(await bounties.create(handle(), bountyOf("b1"))).toEqual(bountyOf("b1"));
    expect(await kindOf(bounties.create(handle(), bountyOf("b1", "r-other")))).toBe("conflict");
    expect(server.document("bounties/b1")?.body).toEqual(bountyOf("b1"));
    expect(server.document("_index/status/bounties/b1")?.body).toMatchObject({ value: "open" });
    expect(await bounties.list(handle())).toEqual([bountyOf("b1")]);
  });

  it("moves a bounty only by If-Match on the ETag it read: of 10 concurrent claimers, one wins", async () => {
    await bounties.create(handle(), bountyOf("b1"));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        bounties.transition(handle(), "b1", {
          from: ["open"],
          to: "claimed",
          set: { claimId: `c${i}`, claimedBy: `agent-${i}` },
          now: NOW + 1,
        }),
      ),
    );
    const won = outcomes.filter((o) => o.status === "fulfilled");
    const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason] : []));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    for (const reason of lost) expect(StoreError.is(reason) && reason.kind).toBe("conflict");
    const stored = await bounties.get(handle(), "b1");
    expect(stored).toMatchObject({ status: "claimed", version: 2 });
    expect(won[0]?.status === "fulfilled" && won[0].value).toEqual(stored);
    expect(server.document("_index/status/bounties/b1")?.body).toMatchObject({
      value: "claimed",
      etag: server.document("bounties/b1")?.etag,
    });
  });

  it("an index write that fails after the document committed is unknown; repairIndexes fixes exactly it (I8)", async () => {
    await bounties.create(handle(), bountyOf("b1"));
    await bounties.create(handle(), bountyOf("b2"));
    const fault = server.fault({
      method: "PUT",
      pathPrefix: "_index/status/bounties/b2",
      action: { type: "fail-before-apply" },
    });
    const moving = bounties.transition(handle(), "b2", {
      from: ["open"],
      to: "cancelled",
      now: NOW,
    });
    const error = await moving.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(fault.fired()).toBe(1);
    expect(StoreError.is(error) && error.kind).toBe("unknown");
    expect((error as { documentCommitted?: boolean }).documentCommitted).toBe(true);
    expect((await bounties.get(handle(), "b2"))?.status, "the document write committed").toBe(
      "cancelled",
    );
    const drift = await bounties.indexDrift(handle());
    expect(drift).toHaveLength(1);
    expect(drift[0]).toContain("bounty b2 is cancelled");
    expect(drift[0]).toContain("says open");
    expect(await bounties.repairIndexes(handle())).toBe(1);
    expect(await bounties.indexDrift(handle())).toEqual([]);
    expect(server.document("_index/status/bounties/b2")?.body).toMatchObject({
      value: "cancelled",
      etag: server.document("bounties/b2")?.etag,
    });
    expect(await bounties.repairIndexes(handle()), "repairing twice fixes nothing more").toBe(0);
  });

  it("reports a marker someone else changed, or one left behind by a direct document write, as drift", async () => {
    await bounties.create(handle(), bountyOf("b1"));
    await bounties.create(handle(), bountyOf("b2"));
    const marker = server.document("_index/status/bounties/b1")?.body as Record<string, unknown>;
    server.write("_index/status/bounties/b1", { ...marker, value: "settled" });
    const b2 = await handle().get("bounties/b2");
    // Another writer rewrote b2 directly: its marker now names an ETag that no longer exists.
    server.write("bounties/b2", b2?.body);
    const drift = await bounties.indexDrift(handle());
    expect(drift).toHaveLength(2);
    expect(drift[0]).toMatch(/^bounty b1 is open .* says settled/);
    expect(drift[1]).toMatch(/^bounty b2 is open \(ETag "e\d+"\) but its index marker says open/);
    expect(await bounties.repairIndexes(handle())).toBe(2);
    expect(await bounties.indexDrift(handle())).toEqual([]);
  });

  it("lists every bounty from its catalog, skipping ids whose creation never wrote a document", async () => {
    await bounties.create(handle(), bountyOf("b2"));
    await bounties.create(handle(), bountyOf("b1"));
    server.fault({
      method: "PUT",
      pathPrefix: "bounties/b3",
      action: { type: "fail-before-apply" },
    });
    expect(await kindOf(bounties.create(handle(), bountyOf("b3")))).toBe("unknown");
    expect(server.document("bounty-catalog")?.body).toEqual({ bountyIds: ["b1", "b2", "b3"] });
    expect((await bounties.list(handle())).map((b) => b.bountyId)).toEqual(["b1", "b2"]);
    expect(await bounties.indexDrift(handle())).toEqual([]);
  });

  it("refuses a store without a status index, and options that are not what they say", () => {
    const plain = httpDocumentStore({ baseUrl: server.baseUrl });
    expect(() => httpBountyStore(plain)).toThrow(LockstepDefinitionError);
    expect(() => httpBountyStore(plain)).toThrow(/has no status index/);
    expect(() => httpBountyStore(documents, { catalogPath: "bounties/catalog" })).toThrow(
      /outside the bounty folder/,
    );
    expect(() => httpBountyStore(documents, { casAttempts: 0 })).toThrow(
      "Expected `casAttempts` to be an integer >= 1, got `0` (number).",
    );
    expect(() => httpBountyStore(documents, { prefix: "/bounties" })).toThrow(/`prefix`/);
  });
});
