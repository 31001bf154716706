import type { AttemptFence } from "../../core/attempt-fence.js";
import { resolveKeyWindow } from "../../core/key-window.js";
import { defineStore, type Store } from "../../core/store.js";
import { assertInteger, assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { classifyNetworkFailure } from "../http/classify-http-error.js";
import { normalizeBaseUrl } from "../http/document-path.js";
import type { FetchFunction } from "../http/http-exchange.js";
import type { ServerErrorKind } from "./classify-api-response.js";
import { createApiClient, type HttpApiClient, type HttpApiSettings } from "./http-api-client.js";

/** Options of {@link httpApiStore}. */
export interface HttpApiStoreOptions {
  /** The store's identity in saga logs and reports, e.g. `"payments"`. */
  readonly id: string;
  /** The API's base URL; every path is resolved below it. Redirects are not followed. */
  readonly baseUrl: string | URL;
  /**
   * How long the provider remembers an idempotency key, in milliseconds: 24 hours at Stripe and
   * Checkout.com, 10 minutes for DynamoDB's client request token. Once it has passed since a
   * step's key was first sent, lockstep never sends that key again before the step's probe has
   * looked (see {@link probeByKey}); a probe that cannot tell leaves the step in doubt.
   * @example 24 * 60 * 60 * 1000
   */
  readonly keyWindowMs: number;
  /**
   * The header the key is sent in.
   * @default "Idempotency-Key"
   */
  readonly idempotencyHeader?: string;
  /**
   * The `fetch` every request goes through: the only way the store reaches the network.
   * @default globalThis.fetch
   */
  readonly fetch?: FetchFunction;
  /**
   * Headers sent with every request, e.g. `{ authorization: "Bearer sk_test_…" }`.
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Deadline of each request, response body included, in milliseconds. A write past it is
   * `timeout`: it may have been applied, and the step's probe decides.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * What a `5xx` answer means: `"transient"` retries the step with the same key (the provider
   * answers a repeated key with the first request's result within the window); `"unknown"` asks
   * the step's probe, for a provider that may apply a request it answers with a `5xx` and does not
   * keep that request's result under its key.
   * @default "transient"
   */
  readonly serverErrors?: ServerErrorKind;
  /**
   * How the API closes an attempt whose request did not answer (see `AttemptFence`): a provider
   * that documents a request timeout can declare `{ mode: "landing_horizon", horizonMs }`.
   * @default { mode: "none" }: a probe that does not find a timed-out write leaves the step in doubt
   */
  readonly fence?: AttemptFence;
}

/** A store over a payment-style HTTP API, as {@link httpApiStore} makes it. */
export type HttpApiStore = Store<HttpApiClient> & { readonly keyWindowMs: number };

/**
 * A store for steps that call a payment-style HTTP API through `fetch`: every write a step sends
 * through its `handle` carries the step's idempotency key in `Idempotency-Key` (or
 * `idempotencyHeader`), every failure is classified — walking the `cause` of `fetch`'s errors as the
 * HTTP document store does — and the store declares its provider's key window (`keyWindowMs`), so
 * lockstep knows when a key stops protecting a retry.
 *
 * It declares no transactions, batches or compare-and-set: a step on it is a saga step, settled by
 * its probe (see {@link probeByKey}).
 *
 * @example
 * ```ts
 * const payments = httpApiStore({ id: "payments", baseUrl: "https://api.example.com/", keyWindowMs: 86_400_000 });
 * // In a step's execute, `handle` is `payments`' handle bound to the step's key:
 * const charge = await handle.send({ path: "v1/charges", body: { amount: 500, metadata: { lockstep_key: key } } });
 * ```
 */
export function httpApiStore(options: HttpApiStoreOptions): HttpApiStore {
  if (typeof options !== "object" || options === null) {
    throw new LockstepDefinitionError(
      `Expected the options of httpApiStore to be an object, got ${describeValue(options)}.`,
    );
  }
  assertName("id", options.id);
  const keyWindowMs = resolveKeyWindow(options.id, options.keyWindowMs);
  if (keyWindowMs === undefined) {
    throw new LockstepDefinitionError(
      `Expected \`keyWindowMs\` of store "${options.id}" to be a whole number of milliseconds >= 1 (how long the provider remembers an idempotency key), got ${describeValue(undefined)}.`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  assertInteger("timeoutMs", timeoutMs, 1);
  const idempotencyHeader = options.idempotencyHeader ?? "Idempotency-Key";
  assertName("idempotencyHeader", idempotencyHeader);
  const serverErrors = options.serverErrors ?? "transient";
  if (serverErrors !== "transient" && serverErrors !== "unknown") {
    throw new LockstepDefinitionError(
      `Expected \`serverErrors\` to be "transient" or "unknown", got ${describeValue(serverErrors)}.`,
    );
  }
  const settings: HttpApiSettings = {
    context: {
      base: normalizeBaseUrl(options.baseUrl),
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      headers: { ...options.headers },
      timeoutMs,
    },
    idempotencyHeader,
    serverErrors,
  };
  const store = defineStore<HttpApiClient>({
    id: options.id,
    handle: createApiClient(settings, undefined, undefined),
    handleFor: (scope, call) => createApiClient(settings, call.key, scope.signal),
    classifyError: classifyNetworkFailure,
    keyWindowMs,
    ...(options.fence === undefined ? {} : { fence: options.fence }),
  });
  return store as HttpApiStore;
}
