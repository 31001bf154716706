/**
 * The handle each wrapped one stands for. A saga log's co-commit accepts only the store's real
 * transaction handles, so every layer that wraps a handle (the crash child's hooks, the Postgres
 * world's SQLite-shaped adapter) records here what it wrapped, and every co-commit unwraps it.
 */
export const realHandles = new WeakMap<object, object>();

/** The handle `handle` wraps, one layer down; `handle` itself when it wraps none. */
export const unwrapHandle = <T>(handle: T): T =>
  (realHandles.get(handle as object) as T | undefined) ?? handle;
