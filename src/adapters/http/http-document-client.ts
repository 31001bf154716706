import { StoreError } from "../../core/error-kinds.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { ErrorKind } from "../../model/error-kind.js";
import { pathProblem } from "./document-path.js";

/** How many read-write-read rounds `index.sync` tries before reporting the document as busy. */
const SYNC_ROUNDS = 3;

import { exchange, type HttpContext, type HttpExchange, type HttpFence } from "./http-exchange.js";
import {
  APPLIED_HEADER,
  FENCED_HEADER,
  type HttpPhase,
  HttpStoreError,
  kindOfStatus,
} from "./http-store-error.js";
import {
  bodyProblem,
  guardProblem,
  type HttpPutGuard,
  type HttpWriteResult,
} from "./http-write.js";

/** A document read from the store, with the ETag that guards writes to it. */
export interface HttpDocument<Body = unknown> {
  readonly body: Body;
  readonly etag: string;
}

/** Options of every {@link HttpDocumentClient} call. */
export interface HttpCallOptions {
  /**
   * Abandons the request: before it is sent it is not sent (`not_committed`); after, the call
   * settles at once as `unknown`, since the write may still be applied.
   * @default no signal; the store's `timeoutMs` still bounds every request
   */
  readonly signal?: AbortSignal;
}

/** Options of {@link HttpDocumentClient.put}: at most one precondition, and a signal. */
export type HttpPutOptions = HttpPutGuard & HttpCallOptions;

/** Options of {@link HttpDocumentClient.delete}. */
export interface HttpDeleteOptions extends HttpCallOptions {
  /** Deletes only if the document's ETag is still this one. @default unguarded */
  readonly ifMatch?: string;
}

/** A status-index marker: which value of the indexed field a document had at which ETag. */
export interface HttpIndexMarker {
  /** The document's path. */
  readonly document: string;
  /** The indexed field, as configured in `statusIndex.field`. */
  readonly field: string;
  /** The field's value in the document. */
  readonly value: unknown;
  /** The document's ETag when the marker was written, `null` if the service sent none. */
  readonly etag: string | null;
}

/** The status index of a store configured with `statusIndex`. */
export interface HttpIndexClient {
  /**
   * Reads a document's marker fresh, or `undefined` when it has none.
   *
   * @example
   * ```ts
   * const marker = await handle.index?.read("bounties/b1");
   * ```
   */
  read(path: string, options?: HttpCallOptions): Promise<HttpIndexMarker | undefined>;
  /**
   * Makes a document's marker agree with the document, read fresh: writes it when the document
   * exists and has the field, deletes it otherwise. Idempotent: this is how recovery repairs the
   * index after a document write whose marker write failed.
   *
   * @example
   * ```ts
   * await handle.index?.sync("bounties/b1");
   * ```
   */
  sync(path: string, options?: HttpCallOptions): Promise<void>;
}

/**
 * How step code reads and writes an HTTP document store: a small client over the store's `fetch`.
 * Every call sends fresh requests (`cache: "no-store"` for reads) and honours its signal.
 */
export interface HttpDocumentClient {
  /**
   * Reads a document, or `undefined` on 404. Use it in probes: it never answers from a cache.
   *
   * @example
   * ```ts
   * const doc = await handle.get<Bounty>("bounties/b1", { signal });
   * ```
   */
  get<Body = unknown>(
    path: string,
    options?: HttpCallOptions,
  ): Promise<HttpDocument<Body> | undefined>;
  /**
   * Writes a document. `ifNoneMatch: "*"` creates only; `ifMatch` updates only that ETag. A failed
   * precondition (412) rejects with a `conflict` {@link HttpStoreError}; other failures reject with
   * the kind their status or network error implies. With a status index, the marker is written after
   * the document; if that fails the call rejects with `documentCommitted: true`.
   *
   * @example
   * ```ts
   * const { etag } = await handle.put("bounties/b1", bounty, { ifNoneMatch: "*", signal });
   * ```
   */
  put(path: string, body: unknown, options?: HttpPutOptions): Promise<HttpWriteResult>;
  /**
   * Deletes a document; `affected: 0` when it did not exist (unguarded). A failed `ifMatch`
   * rejects with a `conflict`. With a status index, the marker is deleted after the document.
   *
   * @example
   * ```ts
   * await handle.delete("claims/c7", { ifMatch: claim.etag });
   * ```
   */
  delete(path: string, options?: HttpDeleteOptions): Promise<HttpWriteResult>;
  /** The status index, present when the store was created with `statusIndex`. */
  readonly index?: HttpIndexClient;
}

/** Where a document's status-index marker lives and which field it records. */
export interface ResolvedIndex {
  readonly field: string;
  readonly path: (documentPath: string) => string;
}

/** Builds the client over a store's context. */
export function createDocumentClient(
  context: HttpContext,
  index: ResolvedIndex | undefined,
): HttpDocumentClient {
  const writeMarker = async (
    path: string,
    body: unknown,
    etag: string | null,
    signal?: AbortSignal,
  ) => {
    if (index === undefined) return;
    const value = (body as Record<string, unknown> | null)?.[index.field];
    const target = index.path(path);
    try {
      const response =
        value === undefined
          ? await exchange(context, { method: "DELETE", target, path, phase: "index", signal })
          : await exchange(context, {
              method: "PUT",
              target,
              path,
              phase: "index",
              signal,
              body: JSON.stringify({ document: path, field: index.field, value, etag }),
            });
      if (!isOk(response) && !(value === undefined && response.status === 404)) {
        throw statusError(response, "PUT", path, "index", context.fence);
      }
    } catch (error) {
      throw indexFailed(path, "written", etag, error);
    }
  };
  const removeMarker = async (path: string, signal?: AbortSignal) => {
    if (index === undefined) return;
    try {
      const response = await exchange(context, {
        method: "DELETE",
        target: index.path(path),
        path,
        phase: "index",
        signal,
      });
      if (!isOk(response) && response.status !== 404) {
        throw statusError(response, "DELETE", path, "index", context.fence);
      }
    } catch (error) {
      throw indexFailed(path, "deleted", null, error);
    }
  };

  const get = async <Body>(path: string, options?: HttpCallOptions) => {
    check(pathProblem(path));
    const response = await exchange(context, {
      method: "GET",
      target: path,
      path,
      phase: "document",
      signal: options?.signal,
    });
    return readDocument<Body>(response, path, "document");
  };

  const client: HttpDocumentClient = {
    get,
    put: async (path, body, options = {}) => {
      check(pathProblem(path) ?? guardProblem("put", path, options.ifMatch, options.ifNoneMatch));
      check(bodyProblem(path, body));
      const response = await exchange(context, {
        method: "PUT",
        target: path,
        path,
        phase: "document",
        signal: options.signal,
        body: JSON.stringify(body),
        headers: preconditions(options.ifMatch, options.ifNoneMatch),
      });
      if (!isOk(response)) throw statusError(response, "PUT", path, "document", context.fence);
      const etag = response.headers.get("etag");
      await writeMarker(path, body, etag, options.signal);
      return { affected: 1, etag };
    },
    delete: async (path, options = {}) => {
      check(pathProblem(path) ?? guardProblem("delete", path, options.ifMatch, undefined));
      const response = await exchange(context, {
        method: "DELETE",
        target: path,
        path,
        phase: "document",
        signal: options.signal,
        headers: preconditions(options.ifMatch, undefined),
      });
      if (response.status === 404 && options.ifMatch === undefined)
        return { affected: 0, etag: null };
      if (!isOk(response)) throw statusError(response, "DELETE", path, "document", context.fence);
      await removeMarker(path, options.signal);
      return { affected: 1, etag: null };
    },
  };
  if (index === undefined) return Object.freeze(client);

  const indexClient: HttpIndexClient = Object.freeze({
    read: async (path: string, options?: HttpCallOptions) => {
      check(pathProblem(path));
      const response = await exchange(context, {
        method: "GET",
        target: index.path(path),
        path,
        phase: "index",
        signal: options?.signal,
      });
      return (await readDocument<HttpIndexMarker>(response, path, "index"))?.body;
    },
    sync: async (path: string, options?: HttpCallOptions) => {
      // The marker is written without a guard, so a writer that moves the document between our read
      // and our marker write would leave it stale. Writers write their marker after their document:
      // ours is right once the document is unchanged after we wrote it.
      for (let round = 0; round < SYNC_ROUNDS; round++) {
        const doc = await get<unknown>(path, options);
        if (doc === undefined) await removeMarker(path, options?.signal);
        else await writeMarker(path, doc.body, doc.etag, options?.signal);
        if ((await get<unknown>(path, options))?.etag === doc?.etag) return;
      }
      throw new HttpStoreError(
        ErrorKind.Transient,
        `The document "${path}" kept changing while its status-index marker was synced; nothing is wrong with it, sync it again.`,
        { method: "PUT", path, phase: "index" },
      );
    },
  });
  return Object.freeze({ ...client, index: indexClient });
}

function isOk(response: HttpExchange): boolean {
  return response.status >= 200 && response.status < 300;
}

function preconditions(
  ifMatch: string | undefined,
  ifNoneMatch: "*" | undefined,
): Record<string, string> {
  if (ifMatch !== undefined) return { "if-match": ifMatch };
  if (ifNoneMatch !== undefined) return { "if-none-match": ifNoneMatch };
  return {};
}

function readDocument<Body>(
  response: HttpExchange,
  path: string,
  phase: HttpPhase,
): HttpDocument<Body> | undefined {
  if (response.status === 404) return undefined;
  if (!isOk(response)) throw statusError(response, "GET", path, phase);
  const etag = response.headers.get("etag");
  if (etag === null) {
    throw new HttpStoreError(
      ErrorKind.NotCommitted,
      `GET of "${path}" answered without an ETag, so no write to it could be guarded.`,
      { status: response.status, method: "GET", path, phase },
    );
  }
  try {
    return { body: JSON.parse(response.text ?? "") as Body, etag };
  } catch (error) {
    throw new HttpStoreError(
      ErrorKind.NotCommitted,
      `GET of "${path}" answered with a body that is not JSON.`,
      { status: response.status, method: "GET", path, phase, cause: error },
    );
  }
}

function statusError(
  response: HttpExchange,
  method: string,
  path: string,
  phase: HttpPhase,
  fence?: HttpFence,
): HttpStoreError {
  const highest = response.headers.get(FENCED_HEADER)?.trim();
  if (response.status === 409 && highest !== undefined) {
    const carried =
      fence === undefined
        ? "its fencing token"
        : `its fencing token ${fence.token} for saga "${fence.sagaId}"`;
    return new HttpStoreError(
      ErrorKind.NotCommitted,
      `${method} of "${path}" was refused by the service's fence: ${carried} is lower than ${highest}, the highest it has seen for that saga, so a newer attempt of the saga has run since; nothing was applied.`,
      { status: 409, method, path, phase, fenced: true },
    );
  }
  const saysNotApplied = response.headers.get(APPLIED_HEADER)?.trim().toLowerCase() === "false";
  const kind = kindOfStatus(response.status, saysNotApplied);
  const consequence =
    kind === ErrorKind.Unknown
      ? "it may have been applied"
      : kind === ErrorKind.Conflict
        ? "its precondition failed and nothing was applied"
        : "nothing was applied";
  const detail = response.text?.trim().slice(0, 200);
  return new HttpStoreError(
    kind,
    `${method} of "${path}" answered ${response.status}${detail ? ` (${detail})` : ""}; ${consequence}.`,
    { status: response.status, method, path, phase },
  );
}

function indexFailed(
  path: string,
  action: "written" | "deleted",
  etag: string | null,
  error: unknown,
): HttpStoreError {
  const reason = error instanceof Error ? error.message : String(error);
  const status = error instanceof HttpStoreError ? error.status : undefined;
  return new HttpStoreError(
    ErrorKind.Unknown,
    `The document "${path}" was ${action}${etag === null ? "" : ` (ETag ${etag})`}, but its status-index marker was not updated: ${reason} The call failed after the document write committed; probe before compensating, and repair the marker with index.sync.`,
    {
      method: action === "written" ? "PUT" : "DELETE",
      path,
      phase: "index",
      ...(etag === null ? {} : { etag }),
      ...(status === undefined ? {} : { status }),
      cause: error,
    },
  );
}

/** A malformed call never reaches the service: `not_committed`, with the definition error as cause. */
function check(problem: string | undefined): void {
  if (problem === undefined) return;
  throw new StoreError(ErrorKind.NotCommitted, problem, {
    cause: new LockstepDefinitionError(problem),
  });
}
