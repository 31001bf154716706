export { classifyHttpError } from "./classify-http-error.js";
export type {
  HttpCallOptions,
  HttpDeleteOptions,
  HttpDocument,
  HttpDocumentClient,
  HttpIndexClient,
  HttpIndexMarker,
  HttpPutOptions,
} from "./http-document-client.js";
export {
  type HttpDocumentStore,
  type HttpDocumentStoreOptions,
  type HttpStatusIndexOptions,
  httpDocumentStore,
} from "./http-document-store.js";
export type { FetchFunction } from "./http-exchange.js";
export {
  APPLIED_HEADER,
  FENCE_HEADER,
  FENCED_HEADER,
  type HttpPhase,
  HttpStoreError,
} from "./http-store-error.js";
export {
  type HttpPutGuard,
  type HttpWrite,
  type HttpWriteResult,
  httpDelete,
  httpPut,
} from "./http-write.js";
