import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type FetchFunction,
  type HttpDocumentStore,
  HttpStoreError,
  httpDelete,
  httpDocumentStore,
  httpPut,
} from "../../../src/adapters/http/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { type DocumentServer, startDocumentServer } from "./document-server.js";

describe("HTTP document client", () => {
  let server: DocumentServer;
  let store: HttpDocumentStore;

  beforeEach(async () => {
    server = await startDocumentServer();
    store = httpDocumentStore({ baseUrl: server.baseUrl, statusIndex: { field: "status" } });
  });
  afterEach(async () => {
    await server.close();
  });

  it("declares conditionalWrite only", () => {
    expect(store.capabilities).toEqual({
      transactions: false,
      atomicBatch: false,
      conditionalWrite: true,
      savepoints: false,
      versionsNeverReused: true,
    });
    expect(store.id).toBe(`http:${server.baseUrl}`);
  });

  it("creates with If-None-Match, updates with If-Match, and reads back body and ETag", async () => {
    const created = await store.handle.put("bounties/b1", { status: "open" }, { ifNoneMatch: "*" });
    expect(created.affected).toBe(1);
    expect(created.etag).toBe(server.document("bounties/b1")?.etag);
    const updated = await store.handle.put(
      "bounties/b1",
      { status: "claimed" },
      { ifMatch: created.etag as string },
    );
    expect(updated.etag).not.toBe(created.etag);
    expect(await store.handle.get("bounties/b1")).toEqual({
      body: { status: "claimed" },
      etag: updated.etag,
    });
    expect(await store.handle.get("bounties/missing")).toBeUndefined();
  });

  it("a failed precondition rejects as a conflict and changes nothing", async () => {
    const { etag } = await store.handle.put("bounties/b1", { status: "open" });
    server.write("bounties/b1", { status: "cancelled" });
    const stale = await storeFailure(
      store.handle.put("bounties/b1", { status: "claimed" }, { ifMatch: etag as string }),
    );
    expect(stale.kind).toBe("conflict");
    expect(stale).toBeInstanceOf(HttpStoreError);
    expect((stale as HttpStoreError).status).toBe(412);
    const exists = await storeFailure(
      store.handle.put("bounties/b1", { status: "open" }, { ifNoneMatch: "*" }),
    );
    expect(exists.kind).toBe("conflict");
    expect(server.document("bounties/b1")?.body).toEqual({ status: "cancelled" });
  });

  it("as a prepared write, a failed precondition affects nothing instead of throwing", async () => {
    await store.handle.put("bounties/b1", { status: "open" });
    const result = await store.apply(
      store.handle,
      httpPut("bounties/b1", { status: "again" }, { ifNoneMatch: "*" }),
      openScope().scope,
    );
    expect(result).toEqual({ affected: 0, etag: null });
    expect(server.document("bounties/b1")?.body).toEqual({ status: "open" });
  });

  it("deletes guarded by If-Match; an unguarded delete of nothing affects nothing", async () => {
    const { etag } = await store.handle.put("claims/c1", { status: "active" });
    expect(await store.handle.delete("claims/missing")).toEqual({ affected: 0, etag: null });
    const stale = await storeFailure(store.handle.delete("claims/c1", { ifMatch: '"nope"' }));
    expect(stale.kind).toBe("conflict");
    expect(await store.handle.delete("claims/c1", { ifMatch: etag as string })).toEqual({
      affected: 1,
      etag: null,
    });
    expect(server.document("claims/c1")).toBeUndefined();
    expect(
      server.document("_index/status/claims/c1"),
      "the marker goes with the document",
    ).toBeUndefined();
  });

  it("writes the status-index marker after the document, in a separate request", async () => {
    const { etag } = await store.handle.put("bounties/b1", { status: "open", title: "t" });
    expect(server.requests).toEqual(["PUT bounties/b1", "PUT _index/status/bounties/b1"]);
    expect(await store.handle.index?.read("bounties/b1")).toEqual({
      document: "bounties/b1",
      field: "status",
      value: "open",
      etag,
    });
  });

  it("index.sync makes a stale or missing marker agree with the document", async () => {
    server.write("bounties/b1", { status: "claimed" });
    expect(await store.handle.index?.read("bounties/b1")).toBeUndefined();
    await store.handle.index?.sync("bounties/b1");
    expect((await store.handle.index?.read("bounties/b1"))?.value).toBe("claimed");
    await store.handle.delete("bounties/b1");
    server.write("_index/status/bounties/b1", { document: "bounties/b1", value: "ghost" });
    await store.handle.index?.sync("bounties/b1");
    expect(await store.handle.index?.read("bounties/b1"), "no document, no marker").toBeUndefined();
  });

  it("a store without statusIndex has no index client and writes no marker", async () => {
    const plain = httpDocumentStore({ baseUrl: server.baseUrl });
    expect(plain.handle.index).toBeUndefined();
    await plain.handle.put("bounties/b1", { status: "open" });
    expect(server.requests).toEqual(["PUT bounties/b1"]);
  });

  it("sends every request through the injected fetch, with its headers, reads uncached", async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const spy: FetchFunction = (url, init) => {
      seen.push({ url: url.href, init });
      return fetch(url, init);
    };
    const custom = httpDocumentStore({
      baseUrl: server.baseUrl,
      fetch: spy,
      headers: { authorization: "Bearer t0ken" },
    });
    await custom.handle.put("a b/c?d", { n: 1 });
    await custom.handle.get("a b/c?d");
    expect(seen.map((s) => s.url)).toEqual([
      `${server.baseUrl}a%20b/c%3Fd`,
      `${server.baseUrl}a%20b/c%3Fd`,
    ]);
    expect(
      seen.every(
        (s) => (s.init.headers as Record<string, string>).authorization === "Bearer t0ken",
      ),
    ).toBe(true);
    expect(
      (seen[1]?.init as { cache?: string } | undefined)?.cache,
      "a probe must never be answered from a cache",
    ).toBe("no-store");
    expect(seen.every((s) => s.init.redirect === "manual")).toBe(true);
    expect(server.document("a b/c?d")?.body).toEqual({ n: 1 });
  });

  it("refuses paths that could leave the base URL before sending anything", async () => {
    for (const path of ["../escape", "a//b", "", "./x", "a/.."]) {
      const error = await storeFailure(store.handle.put(path, {}));
      expect(error.kind, path).toBe("not_committed");
      expect(LockstepDefinitionError.is(error.cause)).toBe(true);
    }
    expect(() => httpPut("../x", {}), "the builder refuses it too").toThrow(
      LockstepDefinitionError,
    );
    expect(server.requests, "nothing may reach the network").toEqual([]);
  });

  it("refuses malformed writes and options with definition errors naming the bad value", () => {
    const attempts: [() => unknown, string][] = [
      [() => httpPut("a", undefined), "undefined"],
      [() => httpPut("a", {}, { ifMatch: "*" } as never), '"*"'],
      [() => httpPut("a", {}, { ifMatch: '"1"', ifNoneMatch: "*" } as never), "not both"],
      [() => httpDelete("a", { ifMatch: "" }), '""'],
      [() => httpDocumentStore({ baseUrl: "ftp://x/" }), "ftp://x/"],
      [() => httpDocumentStore({ baseUrl: "http://x/?q=1" }), "query"],
      [() => httpDocumentStore({ baseUrl: "http://x/", timeoutMs: 0 }), "`0` (number)"],
      [() => httpDocumentStore({ baseUrl: "http://x/", fetch: 5 as never }), "`5` (number)"],
      [() => httpDocumentStore({ baseUrl: "http://x/", statusIndex: { field: "" } }), '""'],
    ];
    expect(attempts).toHaveLength(9);
    for (const [attempt, named] of attempts) {
      expect(attempt, named).toThrow(LockstepDefinitionError);
      expect(attempt).toThrow(named);
    }
  });
});
