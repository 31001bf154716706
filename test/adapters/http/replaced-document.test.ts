import { afterEach, beforeEach, describe, it } from "vitest";
import {
  type HttpDocumentClient,
  type HttpDocumentStore,
  httpDocumentStore,
} from "../../../src/adapters/http/index.js";
import { StoreError } from "../../../src/index.js";
import { expectReplacedDocumentSurvives } from "../../support/replaced-document.js";
import { type DocumentServer, startDocumentServer } from "./document-server.js";

describe("an HTTP document store's guarded compensation after the document was deleted and created again", () => {
  let server: DocumentServer;
  let store: HttpDocumentStore;

  beforeEach(async () => {
    server = await startDocumentServer();
    store = httpDocumentStore({ baseUrl: server.baseUrl });
  });
  afterEach(async () => {
    await server.close();
  });

  it("refuses: the service never gives a path an ETag it had, so the other writer's document survives", async () => {
    await expectReplacedDocumentSurvives<HttpDocumentClient>(
      {
        store,
        create: async (handle, path, body) => {
          const { etag } = await handle.put(path, body, { ifNoneMatch: "*" });
          if (etag === null) throw new Error(`"${path}" was created without an ETag.`);
          return etag;
        },
        read: async (handle, path) => {
          const doc = await handle.get(path);
          return doc && { value: doc.body, version: doc.etag };
        },
        deleteAt: async (handle, path, etag) => {
          try {
            return (await handle.delete(path, { ifMatch: String(etag) })).affected === 1;
          } catch (error) {
            if (StoreError.is(error) && error.kind === "conflict") return false;
            throw error;
          }
        },
        replace: async (path, body) => {
          await store.handle.delete(path);
          await store.handle.put(path, body, { ifNoneMatch: "*" });
        },
      },
      "holds/o-1",
    );
  });
});
