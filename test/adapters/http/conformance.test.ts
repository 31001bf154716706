import {
  type HttpDocumentClient,
  type HttpWrite,
  type HttpWriteResult,
  httpDelete,
  httpDocumentStore,
  httpPut,
} from "../../../src/adapters/http/index.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
import { fenceTokenConformance } from "../../conformance/fence-token.js";
import { startDocumentServer } from "./document-server.js";

// ETags are the versions: opaque strings, compared only for equality.
conditionalWriteConformance<HttpDocumentClient, HttpWrite, HttpWriteResult, string>(
  "httpDocumentStore",
  async () => {
    const server = await startDocumentServer();
    const store = httpDocumentStore({ baseUrl: server.baseUrl });
    return {
      store,
      put: (key, value, ifVersion) =>
        httpPut(
          key,
          value,
          ifVersion === undefined
            ? {}
            : ifVersion === "absent"
              ? { ifNoneMatch: "*" }
              : { ifMatch: ifVersion },
        ),
      remove: (key, ifVersion) => httpDelete(key, { ifMatch: ifVersion }),
      read: async (key) => {
        const doc = await store.handle.get(key);
        return doc && { value: doc.body, version: doc.etag };
      },
      close: () => server.close(),
    };
  },
);

// The test service implements the fencing protocol; a store told so fences by token.
fenceTokenConformance<HttpDocumentClient, HttpWrite, HttpWriteResult>(
  "httpDocumentStore (fencing: true)",
  async () => {
    const server = await startDocumentServer();
    const store = httpDocumentStore({ baseUrl: server.baseUrl, fencing: true });
    return {
      store,
      put: (key, value) => httpPut(key, value),
      read: async (handle, key) => (await handle.get(key))?.body,
      close: () => server.close(),
    };
  },
);
