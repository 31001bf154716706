import type { CallScope } from "../../core/deadline.js";
import { assertDenoPermissions } from "../../core/runtime-permissions.js";
import { defineStore, type StepCall, type WriteStore } from "../../core/store.js";
import { assertInteger, assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { ErrorKind } from "../../model/error-kind.js";
import { classifyHttpError } from "./classify-http-error.js";
import { normalizeBaseUrl, pathProblem } from "./document-path.js";
import {
  createDocumentClient,
  type HttpDocumentClient,
  type ResolvedIndex,
} from "./http-document-client.js";
import type { FetchFunction } from "./http-exchange.js";
import { HttpStoreError } from "./http-store-error.js";
import { type HttpWrite, type HttpWriteResult, httpWriteProblem } from "./http-write.js";

/** Where a store keeps the status-index marker of each document. */
export interface HttpStatusIndexOptions {
  /** The top-level field of each document body the index records, e.g. `"status"`. */
  readonly field: string;
  /**
   * The path of a document's marker, under the same base URL.
   * @default (path) => `_index/<field>/<path>`
   */
  readonly path?: (documentPath: string) => string;
}

/** Options of {@link httpDocumentStore}. */
export interface HttpDocumentStoreOptions {
  /**
   * The base URL documents live under; a document path is resolved below it and can never leave it.
   * Redirects are not followed.
   */
  readonly baseUrl: string | URL;
  /**
   * The `fetch` every request goes through: the only way the store reaches the network.
   * @default globalThis.fetch
   */
  readonly fetch?: FetchFunction;
  /**
   * Headers sent with every request, e.g. `{ authorization: "Bearer …" }`.
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Deadline of each request, response body included, in milliseconds. A write past it is
   * `timeout`: it may have been applied.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * The store's identity in saga logs and reports.
   * @default "http:<baseUrl without credentials>"
   */
  readonly id?: string;
  /**
   * Keep a secondary status index: after each document write, a separate request writes (or, after
   * a delete, removes) a marker recording the document's `field`. The document write can then
   * commit while the call still fails; see {@link HttpStoreError.documentCommitted}.
   * @default no index
   */
  readonly statusIndex?: HttpStatusIndexOptions;
  /**
   * Whether the service never gives a path an ETag that path had before, as the protocol requires:
   * not after the document is deleted and created again, not after the service restarts. The store
   * then declares `versionsNeverReused`, so a compensation guarded by the ETag its step wrote can
   * never match another writer's re-created document. Pass `false` for a service whose ETags can
   * repeat (a hash of the body, a per-document counter that restarts): the store then declares no
   * `versionsNeverReused`, and explain reports the gap on every compensatable step on it.
   * @default true
   * @example `httpDocumentStore({ baseUrl, etagsNeverReused: false })`
   */
  readonly etagsNeverReused?: boolean;
  /**
   * Whether the service implements lockstep's fencing protocol (see {@link httpDocumentStore}): it
   * keeps, per saga id, the highest fencing token it has seen in a `lockstep-fence` header, and
   * refuses with `409` and `lockstep-fenced` a write whose token is lower. The store then sends the
   * header with every request a step call makes and declares `fence: { mode: "fence_token" }`, so a
   * step whose request timed out can be probed, retried or compensated: the request, should it
   * still arrive, is refused. Without it the store sends no such header and declares no fence: a
   * timed-out step its probe does not find stays in doubt, since nothing stops the request landing
   * after the probe.
   * @default false: nothing says a service honours a header it may never have heard of
   * @example `httpDocumentStore({ baseUrl, fencing: true })`
   */
  readonly fencing?: boolean;
}

/** An HTTP JSON document store with ETag compare-and-set. */
export type HttpDocumentStore = WriteStore<HttpDocumentClient, HttpWrite, HttpWriteResult>;

/**
 * Wraps a JSON document service as a lockstep store declaring `conditionalWrite` (and
 * `versionsNeverReused`, and with `fencing: true` a `fence_token` fence) only: each write is one request guarded by its ETag, with neither
 * transactions nor batches, so `runAtomic` runs its writes in sequence with guarded undo and saga
 * steps rely on probes.
 *
 * The protocol: `GET <baseUrl><path>` answers 200 with the JSON body and an `ETag`, or 404;
 * `PUT` with `If-None-Match: *` creates, with `If-Match: <etag>` replaces that version, and answers
 * 412 when the precondition fails; `DELETE` honours `If-Match` the same way. An error response may
 * carry `lockstep-applied: false` to say the write was not applied. An ETag, once given to a path,
 * is never given to it again, even after a delete or a restart (a counter that survives restarts,
 * or a random token; not a hash of the body): that is what makes a guarded compensation safe from
 * a document deleted and created again, and the store declares it (see `etagsNeverReused`).
 *
 * As a prepared write, a failed precondition is `affected: 0` (the core then reports a conflict);
 * through the handle it rejects with a `conflict` {@link HttpStoreError}.
 *
 * The fencing protocol, for a service created with `fencing: true`: every request a step call
 * makes — its execute's, its probe's, its compensation's — carries
 * `lockstep-fence: <saga id, percent-encoded>;<fencing token>`. The service keeps, per saga id, the
 * highest token it has seen (in any request, reads included) and answers a `PUT` or `DELETE` whose
 * token is lower with `409` and `lockstep-fenced: <highest token>`, applying nothing; a `GET` is
 * never refused, only recorded. It must check when it applies the request, not when the request
 * arrives. lockstep raises the saga's token, durably, before it probes a step whose request did
 * not answer, and the probe's read carries it: a late request of the abandoned attempt is then
 * refused ({@link HttpStoreError.fenced}). Requests through the root handle (no step call) carry
 * no fence and are never refused by one. The service may forget a saga's token once no request of
 * its can still be in flight (a day after the saga's last request is plenty).
 *
 * @example
 * ```ts
 * const bounties = httpDocumentStore({
 *   baseUrl: "https://docs.internal/v1/",
 *   headers: { authorization: `Bearer ${token}` },
 *   statusIndex: { field: "status" },
 * });
 * const doc = await bounties.handle.get("bounties/b1");
 * ```
 */
export function httpDocumentStore(options: HttpDocumentStoreOptions): HttpDocumentStore {
  if (typeof options !== "object" || options === null) {
    throw new LockstepDefinitionError(
      `Expected httpDocumentStore options to be an object, got ${describeValue(options)}.`,
    );
  }
  const base = normalizeBaseUrl(options.baseUrl);
  // With a fetch of the caller's own, reaching the network is the caller's business.
  if (options.fetch === undefined) {
    assertDenoPermissions("httpDocumentStore (lockstep/http)", [
      {
        query: { name: "net", host: base.host },
        flag: "--allow-net",
        why: `to reach ${base.origin}`,
      },
    ]);
  }
  const fetchFunction = options.fetch ?? (globalThis.fetch as FetchFunction | undefined);
  if (typeof fetchFunction !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`fetch\` to be a function, got ${describeValue(fetchFunction)}; pass one when the platform has no global fetch.`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  assertInteger("timeoutMs", timeoutMs, 1);
  const headers = options.headers ?? {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string") {
      throw new LockstepDefinitionError(
        `Expected header \`${name}\` to be a string, got ${describeValue(value)}.`,
      );
    }
  }
  const id = options.id ?? `http:${base.origin}${base.pathname}`;
  assertName("id", id);
  const etagsNeverReused = options.etagsNeverReused ?? true;
  if (typeof etagsNeverReused !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`etagsNeverReused\` to be a boolean, got ${describeValue(etagsNeverReused)}.`,
    );
  }
  const fencing = options.fencing ?? false;
  if (typeof fencing !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`fencing\` to be a boolean, got ${describeValue(fencing)}.`,
    );
  }
  const context = { base, fetch: fetchFunction, headers, timeoutMs };
  const index = resolveIndex(options.statusIndex);
  const client = createDocumentClient(context, index);
  return defineStore<HttpDocumentClient, HttpWrite, HttpWriteResult>({
    id,
    handle: client,
    capabilities: { conditionalWrite: true, versionsNeverReused: etagsNeverReused },
    ...(fencing
      ? {
          fence: { mode: "fence_token" as const },
          handleFor: (_scope: CallScope, call: StepCall) =>
            createDocumentClient(
              { ...context, fence: { sagaId: call.sagaId, token: call.fencingToken } },
              index,
            ),
        }
      : {}),
    apply: async (handle, write, scope) => {
      const problem = httpWriteProblem(write);
      if (problem !== undefined) {
        throw new HttpStoreError(ErrorKind.NotCommitted, problem, {
          method: write?.op === "delete" ? "DELETE" : "PUT",
          path: String((write as { path?: unknown } | null)?.path),
          cause: new LockstepDefinitionError(problem),
        });
      }
      try {
        return write.op === "put"
          ? await handle.put(write.path, write.body, {
              ...guardOf(write),
              signal: scope.signal,
            })
          : await handle.delete(write.path, {
              ...(write.ifMatch === undefined ? {} : { ifMatch: write.ifMatch }),
              signal: scope.signal,
            });
      } catch (error) {
        // A prepared write reports a lost precondition as affecting nothing; the core decides.
        if (
          error instanceof HttpStoreError &&
          error.kind === ErrorKind.Conflict &&
          error.phase === "document"
        ) {
          return { affected: 0, etag: null };
        }
        throw error;
      }
    },
    affected: (result) => result.affected,
    classifyError: classifyHttpError,
  });
}

function guardOf(write: Extract<HttpWrite, { op: "put" }>) {
  if (write.ifMatch !== undefined) return { ifMatch: write.ifMatch };
  if (write.ifNoneMatch !== undefined) return { ifNoneMatch: write.ifNoneMatch };
  return {};
}

function resolveIndex(index: HttpStatusIndexOptions | undefined): ResolvedIndex | undefined {
  if (index === undefined) return undefined;
  if (typeof index !== "object" || index === null) {
    throw new LockstepDefinitionError(
      `Expected \`statusIndex\` to be an object, got ${describeValue(index)}.`,
    );
  }
  const { field } = index;
  if (typeof field !== "string" || field.length === 0) {
    throw new LockstepDefinitionError(
      `Expected \`statusIndex.field\` to be a non-empty string, got ${describeValue(field)}.`,
    );
  }
  const custom = index.path;
  if (custom !== undefined && typeof custom !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`statusIndex.path\` to be a function, got ${describeValue(custom)}.`,
    );
  }
  const path = (documentPath: string) => {
    const target = custom === undefined ? `_index/${field}/${documentPath}` : custom(documentPath);
    const problem = pathProblem(target);
    if (problem !== undefined) {
      throw new LockstepDefinitionError(
        `The status-index path for "${documentPath}" is invalid: ${problem}`,
      );
    }
    return target;
  };
  return { field, path };
}
