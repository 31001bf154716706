export {
  classifyApiResponse,
  type ResponseVerdict,
  type ServerErrorKind,
} from "./classify-api-response.js";
export type {
  HttpApiClient,
  HttpApiRead,
  HttpApiRequest,
  HttpApiResponse,
} from "./http-api-client.js";
export { HttpApiError, type IdempotencyConflict } from "./http-api-error.js";
export { type HttpApiStore, type HttpApiStoreOptions, httpApiStore } from "./http-api-store.js";
export { type ProbeByKeyOptions, probeByKey } from "./probe-by-key.js";
