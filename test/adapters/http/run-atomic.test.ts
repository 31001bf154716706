import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type HttpDocumentStore,
  httpDelete,
  httpDocumentStore,
  httpPut,
} from "../../../src/adapters/http/index.js";
import { ErrorCode, runAtomic } from "../../../src/index.js";
import { type DocumentServer, startDocumentServer } from "./document-server.js";

describe("runAtomic on an HTTP document store", () => {
  let server: DocumentServer;
  let store: HttpDocumentStore;

  beforeEach(async () => {
    server = await startDocumentServer();
    store = httpDocumentStore({ baseUrl: server.baseUrl });
  });
  afterEach(async () => {
    await server.close();
  });

  // Each create is undone, if a later one fails, by a delete guarded by the ETag it produced.
  const creates = (...paths: string[]) =>
    paths.map((path) => ({
      name: `create ${path}`,
      guarded: true,
      build: () => httpPut(path, { path }, { ifNoneMatch: "*" }),
      undo: (_handle: unknown, result: { etag: string | null }) =>
        httpDelete(path, { ifMatch: result.etag ?? '"none"' }),
    }));

  it("runs its writes in sequence, with neither transactions nor batches", async () => {
    const report = (await runAtomic(store, creates("handoffs/h1", "handoffs/h2")))._unsafeUnwrap();
    expect(report.strategy).toBe("sequential");
    expect(report.results.map((r) => r.affected)).toEqual([1, 1]);
    expect(report.results[1]?.etag).toBe(server.document("handoffs/h2")?.etag);
  });

  it("refuses require: atomic before sending anything", async () => {
    const error = (
      await runAtomic(store, creates("handoffs/h1"), { require: "atomic" })
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.AtomicityUnavailable);
    expect(server.requests).toEqual([]);
  });

  it("a lost precondition is a conflict naming the write, and the writes before it are undone", async () => {
    server.write("handoffs/h2", { path: "handoffs/h2", by: "someone else" });
    const error = (
      await runAtomic(store, creates("handoffs/h1", "handoffs/h2"))
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    if (error.code !== ErrorCode.Conflict) return;
    expect(error.index).toBe(1);
    expect(error.write).toBe("create handoffs/h2");
    expect(server.document("handoffs/h1"), "the first create must be undone").toBeUndefined();
    expect(server.document("handoffs/h2")?.body, "the other writer's document stays").toEqual({
      path: "handoffs/h2",
      by: "someone else",
    });
  });
});
