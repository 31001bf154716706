import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { kindOfStatus } from "../../../src/adapters/http/http-store-error.js";
import {
  classifyHttpError,
  type HttpDocumentStore,
  HttpStoreError,
  httpDocumentStore,
} from "../../../src/adapters/http/index.js";
import { classifyError } from "../../../src/core/error-kinds.js";
import type { ErrorKind } from "../../../src/model/error-kind.js";
import { storeFailure } from "../../conformance/transaction.js";
import { type DocumentServer, startDocumentServer } from "./document-server.js";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("HTTP error kinds", () => {
  it("maps each status to what it proves about the write", () => {
    const cases: [status: number, saysNotApplied: boolean, kind: ErrorKind][] = [
      [412, false, "conflict"],
      [409, false, "not_committed"],
      [400, false, "not_committed"],
      [422, false, "not_committed"],
      [404, false, "not_committed"],
      [302, false, "not_committed"],
      [408, false, "transient"],
      [429, false, "transient"],
      [500, false, "unknown"],
      [502, false, "unknown"],
      [503, false, "unknown"],
      [503, true, "transient"],
      [500, true, "transient"],
    ];
    expect(cases, "every case is checked").toHaveLength(13);
    for (const [status, saysNotApplied, kind] of cases) {
      expect(kindOfStatus(status, saysNotApplied), `${status} ${saysNotApplied}`).toBe(kind);
    }
  });

  it("recognizes fetch's coded network failures through the cause chain", () => {
    const failure = (code: string) =>
      new TypeError("fetch failed", { cause: Object.assign(new Error(code), { code }) });
    const cases: [string, ErrorKind][] = [
      ["ECONNREFUSED", "transient"],
      ["ENOTFOUND", "transient"],
      ["UND_ERR_CONNECT_TIMEOUT", "transient"],
      ["UND_ERR_SOCKET", "unknown"],
      ["ECONNRESET", "unknown"],
      ["UND_ERR_HEADERS_TIMEOUT", "unknown"],
    ];
    expect(cases).toHaveLength(6);
    for (const [code, kind] of cases) {
      expect(classifyError(failure(code), classifyHttpError), code).toBe(kind);
    }
    expect(classifyHttpError(new TypeError("fetch failed"))).toBeUndefined();
    expect(classifyHttpError(null)).toBeUndefined();
  });
});

describe("HTTP failures at the store boundary", () => {
  let server: DocumentServer;
  let store: HttpDocumentStore;

  beforeEach(async () => {
    server = await startDocumentServer();
    store = httpDocumentStore({ baseUrl: server.baseUrl, statusIndex: { field: "status" } });
  });
  afterEach(async () => {
    await server.close();
  });

  for (const status of [400, 409, 422]) {
    it(`${status} is not_committed and nothing is applied`, async () => {
      server.fault({ method: "PUT", action: { type: "fail-before-apply", status } });
      const error = await storeFailure(store.handle.put("bounties/b1", { status: "open" }));
      expect(error.kind).toBe("not_committed");
      expect((error as HttpStoreError).status).toBe(status);
      expect(server.document("bounties/b1")).toBeUndefined();
    });
  }

  it("a 500 that says nothing is unknown: the service may have applied the write", async () => {
    const fault = server.fault({ method: "PUT", action: { type: "fail-before-apply" } });
    const error = await storeFailure(store.handle.put("bounties/b1", { status: "open" }));
    expect(fault.fired()).toBe(1);
    expect(error.kind).toBe("unknown");
  });

  it("a 503 that says lockstep-applied: false is transient", async () => {
    server.fault({
      method: "PUT",
      action: { type: "fail-before-apply", status: 503, notApplied: true },
    });
    const error = await storeFailure(store.handle.put("bounties/b1", { status: "open" }));
    expect(error.kind).toBe("transient");
    expect(server.document("bounties/b1")).toBeUndefined();
  });

  it("a response dropped after the write applied is unknown, and the write is there", async () => {
    const fault = server.fault({ method: "PUT", action: { type: "drop-after-apply" } });
    const error = await storeFailure(store.handle.put("bounties/b1", { status: "open" }));
    expect(fault.fired()).toBe(1);
    expect(error.kind, "a lost response may not be reported as not applied").toBe("unknown");
    expect(server.document("bounties/b1")?.body).toEqual({ status: "open" });
  });

  it("a document written whose index marker failed rejects with documentCommitted", async () => {
    server.fault({ method: "PUT", pathPrefix: "_index/", action: { type: "fail-before-apply" } });
    const error = await storeFailure(store.handle.put("bounties/b1", { status: "open" }));
    expect(error).toBeInstanceOf(HttpStoreError);
    const failure = error as HttpStoreError;
    expect(failure.kind, "the call failed but the write committed: never not_committed").toBe(
      "unknown",
    );
    expect(failure.phase).toBe("index");
    expect(failure.documentCommitted).toBe(true);
    expect(failure.etag).toBe(server.document("bounties/b1")?.etag);
    expect(server.document("_index/status/bounties/b1")).toBeUndefined();
  });

  it("connection refused is transient: nothing was sent", async () => {
    const refused = httpDocumentStore({ baseUrl: `http://127.0.0.1:${await closedPort()}/docs/` });
    const error = await storeFailure(refused.handle.put("bounties/b1", { status: "open" }));
    expect(error.kind).toBe("transient");
    expect(error.message).toContain("never sent");
  });

  it("no answer within timeoutMs is a timeout and does not hang; the write did land", async () => {
    const quick = httpDocumentStore({ baseUrl: server.baseUrl, timeoutMs: 50 });
    const fault = server.fault({ method: "PUT", action: { type: "hold-after-apply" } });
    const error = await storeFailure(quick.handle.put("bounties/b1", { status: "open" }));
    expect(error.kind).toBe("timeout");
    expect(server.document("bounties/b1")).toBeDefined();
    fault.release();
  });

  it("aborting a request after it was sent settles at once as unknown", async () => {
    const fault = server.fault({ method: "PUT", action: { type: "hold-after-apply" } });
    const controller = new AbortController();
    const pending = store.handle.put(
      "bounties/b1",
      { status: "open" },
      { signal: controller.signal },
    );
    while (server.document("bounties/b1") === undefined) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    controller.abort(new Error("caller gave up"));
    const error = await storeFailure(pending);
    expect(error.kind).toBe("unknown");
    fault.release();
  });

  it("a signal aborted before the call sends nothing and says not_committed", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    const error = await storeFailure(
      store.handle.put("bounties/b1", { status: "open" }, { signal: controller.signal }),
    );
    expect(error.kind).toBe("not_committed");
    expect(server.requests).toEqual([]);
  });

  it("a fetch that ignores its signal still cannot hang the call", async () => {
    const stuck = httpDocumentStore({
      baseUrl: server.baseUrl,
      timeoutMs: 50,
      fetch: () => new Promise<Response>(() => {}),
    });
    const error = await storeFailure(stuck.handle.get("bounties/b1"));
    expect(error.kind).toBe("timeout");
  });
});
