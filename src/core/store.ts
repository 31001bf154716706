import { LockstepDefinitionError } from "../model/definition-error.js";
import { type AttemptFence, resolveFence } from "./attempt-fence.js";
import { CAPABILITY_NAMES, declareCapabilities, type StoreCapabilities } from "./capabilities.js";
import type { CallScope } from "./deadline.js";
import type { ErrorClassifier } from "./error-kinds.js";
import { resolveKeyWindow } from "./key-window.js";
import { assertFunction, assertName, describeValue } from "./validate.js";

/**
 * Which saga call a scoped handle serves: a store that fences attempts by token sends
 * `fencingToken` with every request (keyed by `sagaId`), and the service refuses a request whose
 * token is lower than the highest it has seen for that saga.
 */
export interface StepCall {
  /** The saga's id. */
  readonly sagaId: string;
  /** The step's name. */
  readonly step: string;
  /** The step's idempotency key. */
  readonly key: string;
  /** The saga's fencing token: raised on every takeover and before a probe of an open attempt. */
  readonly fencingToken: number;
}

/**
 * A store adapter: the user's client for one store, wrapped with a declared capability descriptor.
 *
 * `Handle` is what step code writes through (a database handle, a Redis client, an HTTP client).
 * Inside a transaction the callback receives a transaction-scoped `Handle` that owns its connection,
 * so no statement from another request can join it. `Write` and `WriteResult` are the store's prepared
 * writes and their results, used by {@link runAtomic}; a store that only serves saga steps can leave
 * them `never`.
 */
export interface Store<Handle = unknown, Write = never, WriteResult = never> {
  /**
   * A stable identity for the underlying database, e.g. `"sqlite:/var/app/main.db"`. Two stores with
   * the same id are the same database: a saga log with this id can commit its records inside the
   * step's own transaction.
   */
  readonly id: string;
  /** What the store can do. Read by the core in exactly one place: strategy resolution. */
  readonly capabilities: StoreCapabilities;
  /** The root handle steps write through when no transaction is involved. */
  readonly handle: Handle;
  /**
   * The root handle bound to one call's scope: what a step's `execute`, `probe` and `compensate`
   * receive as `handle`, so every statement they send is ended with the call (a timed-out
   * statement cannot land later) without the step passing its signal along.
   * A wrapper that replaces a store's `handle` (to add logging, say) must replace or drop
   * `handleFor` too, or steps keep receiving the wrapped store's own handles.
   * @default the root handle, for every call
   */
  readonly handleFor?: (scope: CallScope, call: StepCall) => Handle;
  /**
   * Runs `work` in one transaction that owns its connection, committing if `work` resolves and rolling
   * back if it rejects. Present exactly when `capabilities.transactions` is `true`.
   */
  readonly transaction?: <T>(work: (tx: Handle) => Promise<T>, scope: CallScope) => Promise<T>;
  /**
   * Applies prepared writes all-or-nothing and returns their results by position. Present exactly when
   * `capabilities.atomicBatch` is `true`.
   */
  readonly batch?: (writes: readonly Write[], scope: CallScope) => Promise<readonly WriteResult[]>;
  /**
   * Runs `work` with a handle that reads committed data at once and queues every write, then
   * applies the queued writes in one atomic batch when `work` resolves (nothing when it rejects).
   * Requires `atomicBatch`. A saga step on the saga log's own database (the log's
   * `coCommit.storeId`) then co-commits through it: the step's writes, its log records and a
   * fencing check that makes the whole batch apply nothing when the token is stale go in one batch
   * (explain reports `batch_co_committed`). A store with `transactions` co-commits in a transaction
   * instead.
   */
  readonly deferredBatch?: <T>(work: (batch: Handle) => Promise<T>, scope: CallScope) => Promise<T>;
  /** Applies one prepared write through `handle` (the root handle or a transaction's). */
  readonly apply?: (handle: Handle, write: Write, scope: CallScope) => Promise<WriteResult>;
  /** How many rows or documents a write affected; zero on a guarded write is a conflict. */
  readonly affected?: (result: WriteResult) => number;
  /** Recognizes the driver's errors; see {@link classifyError}. Unrecognized errors are `unknown`. */
  readonly classifyError?: ErrorClassifier;
  /**
   * How the store closes an attempt whose call did not return, so lockstep knows when a probe's
   * "not committed" can be trusted; see {@link AttemptFence}.
   * @default `{ mode: "none" }`: a timed-out step the probe does not find is in doubt, never retried
   * or compensated.
   */
  readonly fence?: AttemptFence;
  /**
   * How long the service behind the store remembers an idempotency key, in milliseconds (Stripe
   * and Checkout.com: 24 hours; DynamoDB's client request token: 10 minutes). lockstep then makes
   * every step's first intent durable before its key is sent, hands the step its
   * `keyWindow`, and once the window has passed never sends the key again without asking
   * the step's probe first: a probe that finds the write commits the step, one that proves it
   * absent lets the step run again, and one that cannot tell leaves the step in doubt (reason
   * `idempotency_window_expired`).
   * @default none: the key is taken to be remembered for ever
   * @example 24 * 60 * 60 * 1000
   */
  readonly keyWindowMs?: number;
}

/**
 * The part of a store a saga step uses: its identity, capabilities, handle and transactions. Any
 * `Store<Handle, Write, WriteResult>` fits, whatever its prepared-write types.
 */
export type StepStore<Handle> = Pick<
  Store<Handle, never, never>,
  | "id"
  | "capabilities"
  | "handle"
  | "handleFor"
  | "transaction"
  | "deferredBatch"
  | "classifyError"
  | "fence"
  | "keyWindowMs"
>;

/** A store that can apply prepared writes, as `runAtomic` needs. */
export type WriteStore<Handle, Write, WriteResult> = Store<Handle, Write, WriteResult> & {
  readonly apply: (handle: Handle, write: Write, scope: CallScope) => Promise<WriteResult>;
  readonly affected: (result: WriteResult) => number;
};

/** What {@link defineStore} takes: a store whose capabilities may be partial. */
export type StoreDefinition<Handle, Write, WriteResult> = Omit<
  Store<Handle, Write, WriteResult>,
  "capabilities"
> & {
  readonly capabilities?: Partial<StoreCapabilities>;
};

const METHOD_FOR: Partial<Record<keyof StoreCapabilities, "transaction" | "batch">> = {
  transactions: "transaction",
  atomicBatch: "batch",
};

/**
 * Defines a store adapter: fills in every undeclared capability as `false` and checks that each
 * declared capability comes with the method that implements it, and that no method is present for a
 * capability left undeclared (such a method would never be called, which hides a mistake).
 *
 * @example
 * ```ts
 * const orders = defineStore({
 *   id: "sqlite:orders.db",
 *   handle: db,
 *   capabilities: { transactions: true, conditionalWrite: true },
 *   transaction: (work) => runInTransaction(db, work),
 * });
 * ```
 */
export function defineStore<Handle, Write, WriteResult>(
  definition: StoreDefinition<Handle, Write, WriteResult> &
    Pick<WriteStore<Handle, Write, WriteResult>, "apply" | "affected">,
): WriteStore<Handle, Write, WriteResult>;
export function defineStore<Handle, Write = never, WriteResult = never>(
  definition: StoreDefinition<Handle, Write, WriteResult>,
): Store<Handle, Write, WriteResult>;
export function defineStore<Handle, Write = never, WriteResult = never>(
  definition: StoreDefinition<Handle, Write, WriteResult>,
): Store<Handle, Write, WriteResult> {
  assertName("store.id", definition.id);
  const declared = definition.capabilities ?? {};
  for (const key of Object.keys(declared)) {
    if (!(CAPABILITY_NAMES as readonly string[]).includes(key)) {
      throw new LockstepDefinitionError(
        `Store "${definition.id}" declares an unknown capability \`${key}\`; known capabilities are ${CAPABILITY_NAMES.join(", ")}.`,
      );
    }
    const value = (declared as Record<string, unknown>)[key];
    if (typeof value !== "boolean") {
      throw new LockstepDefinitionError(
        `Expected capability \`${key}\` of store "${definition.id}" to be a boolean, got ${describeValue(value)}.`,
      );
    }
  }
  const capabilities = declareCapabilities(declared);
  for (const [capability, method] of Object.entries(METHOD_FOR) as [
    keyof StoreCapabilities,
    "transaction" | "batch",
  ][]) {
    const present = definition[method] !== undefined;
    if (capabilities[capability] && !present) {
      throw new LockstepDefinitionError(
        `Store "${definition.id}" declares \`${capability}\` but has no \`${method}\` method to provide it.`,
      );
    }
    if (!capabilities[capability] && present) {
      throw new LockstepDefinitionError(
        `Store "${definition.id}" has a \`${method}\` method but does not declare \`${capability}\`; declare the capability or remove the method.`,
      );
    }
    if (present) assertFunction(`${definition.id}.${method}`, definition[method]);
  }
  if (capabilities.savepoints && !capabilities.transactions) {
    throw new LockstepDefinitionError(
      `Store "${definition.id}" declares \`savepoints\` without \`transactions\`; savepoints exist only inside transactions.`,
    );
  }
  if (definition.deferredBatch !== undefined) {
    if (!capabilities.atomicBatch) {
      throw new LockstepDefinitionError(
        `Store "${definition.id}" has a \`deferredBatch\` method but does not declare \`atomicBatch\`; a deferred batch is applied as one atomic batch.`,
      );
    }
    assertFunction(`${definition.id}.deferredBatch`, definition.deferredBatch);
  }
  if ((definition.apply === undefined) !== (definition.affected === undefined)) {
    throw new LockstepDefinitionError(
      `Store "${definition.id}" must define \`apply\` and \`affected\` together: prepared writes need both.`,
    );
  }
  const fence = resolveFence(definition.id, definition.fence);
  const keyWindowMs = resolveKeyWindow(definition.id, definition.keyWindowMs);
  return Object.freeze({
    ...definition,
    capabilities,
    fence,
    ...(keyWindowMs === undefined ? {} : { keyWindowMs }),
  });
}

/**
 * How a step on `store` commits together with its log records, or `undefined` when it does not:
 * the store is the very database the log's co-commit writes into, and it runs transactions
 * (`"transaction"`) or deferred atomic batches (`"batch"`). The runner groups such steps into one
 * transaction or batch, and explain plans report them as co-committed: one rule for both.
 */
export function coCommitMode(
  store: StepStore<unknown>,
  coCommitStoreId: string | undefined,
): "transaction" | "batch" | undefined {
  if (coCommitStoreId === undefined || store.id !== coCommitStoreId) return undefined;
  if (store.capabilities.transactions && store.transaction !== undefined) return "transaction";
  if (store.capabilities.atomicBatch && store.deferredBatch !== undefined) return "batch";
  return undefined;
}

/** Whether a step on `store` commits together with its log records; see {@link coCommitMode}. */
export function isCoCommitted(
  store: StepStore<unknown>,
  coCommitStoreId: string | undefined,
): boolean {
  return coCommitMode(store, coCommitStoreId) !== undefined;
}

/** Whether a store can apply prepared writes. */
export function isWriteStore<H, W, R>(store: Store<H, W, R>): store is WriteStore<H, W, R> {
  return typeof store.apply === "function" && typeof store.affected === "function";
}
