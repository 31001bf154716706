import {
  type HttpDocumentClient,
  type HttpWrite,
  type HttpWriteResult,
  httpDelete,
  httpDocumentStore,
  httpPut,
} from "../../../src/adapters/http/index.js";
import { conditionalWriteConformance } from "../../conformance/conditional-write.js";
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
