/**
 * What a store can do, declared by its adapter as readonly data.
 *
 * lockstep never infers a capability from the presence of a method on a third-party handle: an
 * adapter states each one here, and {@link defineStore} checks that every declared capability comes
 * with the method that implements it. Every flag defaults to `false`.
 */
export interface StoreCapabilities {
  /**
   * Whether or not this store supports interactive ACID transactions that own their connection or
   * session. Default is `false`. If `true`, the store must implement `transaction`, and the core runs
   * `runAtomic` work and co-committed saga steps inside one.
   */
  readonly transactions: boolean;
  /**
   * Whether or not this store applies a list of prepared writes all-or-nothing (a D1-style batch,
   * Redis `MULTI`/`EXEC` with `WATCH`). Default is `false`. If `true`, the store must implement
   * `batch`, and `runAtomic` uses it when the store has no transactions.
   */
  readonly atomicBatch: boolean;
  /**
   * Whether or not the store can express a guarded write (compare-and-set: `UPDATE … WHERE version =
   * ?`, `If-Match`) and report that it affected nothing. Default is `false`. If `true`, guarded writes
   * are allowed in `runAtomic`, and explain plans count compensations on this store as CAS-guarded.
   */
  readonly conditionalWrite: boolean;
  /**
   * Whether or not transactions on this store support savepoints, so that a nested scope can roll back
   * without aborting the outer transaction. Default is `false`. Requires `transactions`.
   */
  readonly savepoints: boolean;
  /**
   * Whether or not a version this store's guarded writes compare (a version number, an ETag) is
   * never given to the same key twice: not after the document is deleted and another is created
   * under its key, not after the store restarts having lost data. Default is `false`. If `true`, a
   * compensation guarded by the version its step wrote can never match a document another writer
   * created since (the ABA problem), and explain counts such a guard as sound; if `false` on a store
   * with `conditionalWrite` and without `transactions`, explain reports a `reusable_versions` gap for
   * every compensatable step on it.
   *
   * @example
   * ```ts
   * // Versions come from a counter a delete never resets, or carry a random incarnation.
   * const capabilities = declareCapabilities({ conditionalWrite: true, versionsNeverReused: true });
   * ```
   */
  readonly versionsNeverReused: boolean;
}

/** The capability descriptor with every flag at its default, `false`. */
export const NO_CAPABILITIES: StoreCapabilities = Object.freeze({
  transactions: false,
  atomicBatch: false,
  conditionalWrite: false,
  savepoints: false,
  versionsNeverReused: false,
});

/**
 * Builds a frozen capability descriptor from the flags an adapter declares; every flag not named is
 * `false`, so adding a capability to lockstep never breaks an existing adapter.
 *
 * @example
 * ```ts
 * const capabilities = declareCapabilities({ transactions: true, conditionalWrite: true });
 * ```
 */
export function declareCapabilities(flags: Partial<StoreCapabilities> = {}): StoreCapabilities {
  return Object.freeze({ ...NO_CAPABILITIES, ...flags });
}

/** The names of every capability flag, in a stable order. */
export const CAPABILITY_NAMES = Object.freeze(
  Object.keys(NO_CAPABILITIES) as (keyof StoreCapabilities)[],
);
