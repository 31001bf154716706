import { describeValue } from "../../core/validate.js";
import { ErrorKind } from "../../model/error-kind.js";
import { pathProblem } from "../http/document-path.js";
import { exchange, type HttpContext, type HttpExchange } from "../http/http-exchange.js";
import { HttpStoreError } from "../http/http-store-error.js";
import { classifyApiResponse, type ServerErrorKind } from "./classify-api-response.js";
import { HttpApiError } from "./http-api-error.js";

/** A write to an HTTP API: sent with the step's idempotency key. */
export interface HttpApiRequest {
  /**
   * The method.
   * @default "POST"
   */
  readonly method?: "POST" | "PUT" | "PATCH" | "DELETE";
  /** The path under the store's base URL, e.g. `"v1/charges"`. */
  readonly path: string;
  /** The body, sent as JSON. A value JSON cannot hold (a BigInt, a cycle) is refused unsent. */
  readonly body?: unknown;
  /** Query parameters. */
  readonly query?: Readonly<Record<string, string>>;
  /** Extra headers for this request. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The key to send, for a write through the store's root handle; a step's handle sends the
   * step's key and refuses another.
   * @default the step's key
   */
  readonly idempotencyKey?: string;
  /** Aborts the request; a step's handle already ends it with the step call. */
  readonly signal?: AbortSignal;
}

/** A read from an HTTP API. */
export interface HttpApiRead {
  /** Query parameters. */
  readonly query?: Readonly<Record<string, string>>;
  /** Extra headers for this request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborts the request. */
  readonly signal?: AbortSignal;
}

/** A successful answer. */
export interface HttpApiResponse {
  /** The HTTP status (2xx). */
  readonly status: number;
  /** The response headers. */
  readonly headers: Headers;
  /** The body parsed as JSON, its text when it is not JSON, `undefined` when empty. */
  readonly body: unknown;
}

/**
 * What a step on an HTTP API store writes and reads through: each write carries the step's key in
 * the store's idempotency header; each error is an {@link HttpApiError} whose kind says whether the
 * write may have been applied.
 */
export interface HttpApiClient {
  /** The key this handle sends with every write: the step's; `undefined` on the root handle. */
  readonly idempotencyKey: string | undefined;
  /** Sends a write with the idempotency key; rejects with an {@link HttpApiError}. */
  send(request: HttpApiRequest): Promise<HttpApiResponse>;
  /** Reads `path`; `undefined` when the API answers `404`. Other failures reject. */
  get(path: string, read?: HttpApiRead): Promise<HttpApiResponse | undefined>;
}

/** What a client is built from: the store's settings and the call it serves. */
export interface HttpApiSettings {
  readonly context: HttpContext;
  readonly idempotencyHeader: string;
  readonly serverErrors: ServerErrorKind;
}

/** A client bound to one step call's key and signal, or the root client (neither). */
export function createApiClient(
  settings: HttpApiSettings,
  key: string | undefined,
  signal: AbortSignal | undefined,
): HttpApiClient {
  const call = async (
    method: "GET" | NonNullable<HttpApiRequest["method"]>,
    path: string,
    options: HttpApiRequest | HttpApiRead,
    extra: { readonly headers?: Record<string, string>; readonly body?: string },
  ): Promise<HttpExchange> => {
    const problem = pathProblem(path);
    if (problem !== undefined) {
      throw new HttpApiError(ErrorKind.NotCommitted, `${problem} Nothing was sent.`, {
        method,
        path: String(path),
      });
    }
    const search =
      options.query === undefined ? undefined : new URLSearchParams(options.query).toString();
    try {
      return await exchange(settings.context, {
        method,
        target: path,
        path,
        phase: "document",
        ...(search === undefined ? {} : { search }),
        readBody: true,
        headers: { ...options.headers, ...extra.headers },
        ...(extra.body === undefined ? {} : { body: extra.body }),
        signal: anySignal(signal, options.signal),
      });
    } catch (error) {
      // The HTTP document store's classification of fetch failures, kept as it is.
      if (error instanceof HttpStoreError) {
        throw new HttpApiError(error.kind, error.message, { method, path, cause: error });
      }
      throw error;
    }
  };
  const fail = (method: string, path: string, response: HttpExchange): never => {
    const verdict = classifyApiResponse(response.status, response.text, settings.serverErrors);
    const conflict =
      verdict.idempotencyConflict === undefined
        ? ""
        : ` (idempotency conflict: ${verdict.idempotencyConflict})`;
    throw new HttpApiError(
      verdict.kind,
      `${method} ${path} answered ${response.status}${conflict}: ${(response.text ?? "").slice(0, 200)}`,
      {
        status: response.status,
        method,
        path,
        ...(verdict.idempotencyConflict === undefined
          ? {}
          : { idempotencyConflict: verdict.idempotencyConflict }),
        ...(response.text === undefined ? {} : { body: response.text }),
      },
    );
  };
  return Object.freeze({
    idempotencyKey: key,
    async send(request: HttpApiRequest): Promise<HttpApiResponse> {
      const method = request.method ?? "POST";
      const sendKey = keyToSend(key, request, method);
      const body = request.body === undefined ? undefined : serialize(request, method);
      const response = await call(method, request.path, request, {
        headers: { [settings.idempotencyHeader]: sendKey },
        ...(body === undefined ? {} : { body }),
      });
      if (response.status < 200 || response.status >= 300) fail(method, request.path, response);
      return answer(response);
    },
    async get(path: string, read: HttpApiRead = {}): Promise<HttpApiResponse | undefined> {
      const response = await call("GET", path, read, {});
      if (response.status === 404) return undefined;
      if (response.status < 200 || response.status >= 300) fail("GET", path, response);
      return answer(response);
    },
  });
}

function keyToSend(key: string | undefined, request: HttpApiRequest, method: string): string {
  const given = request.idempotencyKey;
  if (given !== undefined && (typeof given !== "string" || given.length === 0)) {
    throw new HttpApiError(
      ErrorKind.NotCommitted,
      `Expected \`idempotencyKey\` to be a non-empty string, got ${describeValue(given)}; nothing was sent.`,
      { method, path: request.path },
    );
  }
  if (key !== undefined && given !== undefined && given !== key) {
    throw new HttpApiError(
      ErrorKind.NotCommitted,
      `A step's handle sends the step's key ${describeValue(key)}, not ${describeValue(given)}; nothing was sent.`,
      { method, path: request.path },
    );
  }
  const sent = key ?? given;
  if (sent === undefined) {
    throw new HttpApiError(
      ErrorKind.NotCommitted,
      `${method} ${request.path} has no idempotency key: send it through a step's handle, or pass \`idempotencyKey\`; nothing was sent.`,
      { method, path: request.path },
    );
  }
  return sent;
}

function serialize(request: HttpApiRequest, method: string): string {
  let text: string | undefined;
  let cause: unknown;
  try {
    text = JSON.stringify(request.body);
  } catch (error) {
    cause = error;
  }
  if (text === undefined) {
    throw new HttpApiError(
      ErrorKind.NotCommitted,
      `The body of ${method} ${request.path} cannot be sent as JSON (${describeValue(request.body)}${cause instanceof Error ? `: ${cause.message}` : ""}); nothing was sent.`,
      { method, path: request.path, ...(cause === undefined ? {} : { cause }) },
    );
  }
  return text;
}

function answer(response: HttpExchange): HttpApiResponse {
  const text = response.text;
  let body: unknown;
  if (text !== undefined && text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body };
}

function anySignal(
  a: AbortSignal | undefined,
  b: AbortSignal | undefined,
): AbortSignal | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  // Node 20.0–20.2 have no AbortSignal.any: link the two by hand.
  const linked = new AbortController();
  for (const signal of [a, b]) {
    if (signal.aborted) {
      linked.abort(signal.reason);
      break;
    }
    signal.addEventListener("abort", () => linked.abort(signal.reason), { once: true });
  }
  return linked.signal;
}
