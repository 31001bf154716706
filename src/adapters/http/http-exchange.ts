import { raceAbort } from "../../core/race-abort.js";
import { ErrorKind } from "../../model/error-kind.js";
import { classifyNetworkFailure } from "./classify-http-error.js";
import { documentUrl } from "./document-path.js";
import { FENCE_HEADER, type HttpPhase, HttpStoreError } from "./http-store-error.js";

/** The `fetch` function a store sends its requests through. */
export type FetchFunction = (input: URL, init: RequestInit) => Promise<Response>;

/** Everything a request needs from the store's options. */
export interface HttpContext {
  readonly base: URL;
  readonly fetch: FetchFunction;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** The fence of the step call the requests serve, sent in {@link FENCE_HEADER}; none outside one. */
  readonly fence?: HttpFence;
}

/** Which saga a request serves, and the fencing token it carries. */
export interface HttpFence {
  readonly sagaId: string;
  readonly token: number;
}

/** One request. */
export interface HttpRequest {
  readonly method: "GET" | "PUT" | "DELETE" | "POST" | "PATCH";
  /** The path under the base URL the request goes to. */
  readonly target: string;
  /** The query string, without its `?`; none when absent. */
  readonly search?: string;
  /** Whether to read the body of a successful response to a write too (an API's answer). */
  readonly readBody?: boolean;
  /** The document path the write is about, for errors. */
  readonly path: string;
  readonly phase: HttpPhase;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal: AbortSignal | undefined;
}

/** A response, with its body read when the caller needs it. */
export interface HttpExchange {
  readonly status: number;
  readonly headers: Headers;
  /** The body: always read for a successful GET; best effort for an error; not read otherwise. */
  readonly text: string | undefined;
}

/**
 * Sends one request through the user's `fetch`, bounded by `timeoutMs` and the caller's signal, and
 * settles by then even if `fetch` ignores its signal. Failures are {@link HttpStoreError}s: aborted
 * before sending is `not_committed`; refused before connecting is `transient`; lost after sending is
 * `unknown`; past the deadline is `timeout`.
 */
export async function exchange(context: HttpContext, request: HttpRequest): Promise<HttpExchange> {
  const { method, path, phase, signal } = request;
  const what = `${method} ${request.target}`;
  const fail = (kind: ErrorKind, message: string, cause?: unknown) =>
    new HttpStoreError(kind, message, {
      method,
      path,
      phase,
      ...(cause === undefined ? {} : { cause }),
    });
  if (signal?.aborted) {
    throw fail(ErrorKind.NotCommitted, `${what} was aborted before it was sent.`, signal.reason);
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`No answer within ${context.timeoutMs} ms.`));
  }, context.timeoutMs);
  timer.unref?.();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const url = documentUrl(context.base, request.target);
    if (request.search !== undefined) url.search = request.search;
    const response = await untilAborted(
      context.fetch(url, {
        method,
        headers: {
          accept: "application/json",
          ...context.headers,
          ...(request.body === undefined ? {} : { "content-type": "application/json" }),
          ...request.headers,
          ...(context.fence === undefined
            ? {}
            : {
                [FENCE_HEADER]: `${encodeURIComponent(context.fence.sagaId)};${context.fence.token}`,
              }),
        },
        ...(request.body === undefined ? {} : { body: request.body }),
        signal: controller.signal,
        // A redirect would send the request outside the base URL.
        redirect: "manual",
        ...(method === "GET" ? { cache: "no-store" as const } : {}),
      }),
      controller.signal,
    );
    const ok = response.status >= 200 && response.status < 300;
    let text: string | undefined;
    if ((method === "GET" || request.readBody === true) && ok) {
      text = await untilAborted(response.text(), controller.signal);
    } else if (ok) {
      // The status already says what happened to the write; the body is not needed.
      await response.body?.cancel().catch(() => {});
    } else {
      text = await untilAborted(response.text(), controller.signal).catch(() => undefined);
    }
    return { status: response.status, headers: response.headers, text };
  } catch (error) {
    if (timedOut) {
      throw fail(
        ErrorKind.Timeout,
        `${what} got no answer within ${context.timeoutMs} ms; it may have been applied.`,
        error,
      );
    }
    if (signal?.aborted) {
      throw fail(
        ErrorKind.Unknown,
        `${what} was aborted after it was sent; it may have been applied.`,
        signal.reason,
      );
    }
    const kind = classifyNetworkFailure(error) ?? ErrorKind.Unknown;
    const consequence =
      kind === ErrorKind.Transient ? "it was never sent" : "it may have been applied";
    throw fail(kind, `${what} failed (${describeFailure(error)}); ${consequence}.`, error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return raceAbort(promise, signal, () => signal.reason);
}

/** The message of an error and of the coded cause behind it, e.g. "fetch failed: ECONNREFUSED". */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const detail = typeof cause?.code === "string" ? cause.code : undefined;
  return detail === undefined ? message : `${message}: ${detail}`;
}
