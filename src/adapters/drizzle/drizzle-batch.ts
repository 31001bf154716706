import { StoreError } from "../../core/error-kinds.js";
import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import type { BatchWrite } from "../sql/batch-handle.js";

// Marks a Drizzle query as guarded, shared by the ESM and CJS copies of lockstep.
const GUARDED = Symbol.for("lockstep.drizzle.guarded");

/** What lockstep uses of a built Drizzle SQLite query: its prepared form. */
interface BatchableQuery {
  _prepare(): PreparedQuery;
}

/** A prepared Drizzle query: its statement, and how it maps the driver's result of a batch. */
interface PreparedQuery {
  getQuery(): { readonly sql: string; readonly params: readonly unknown[] };
  mapResult(result: unknown, isFromBatch?: boolean): unknown;
}

function isQuery(value: unknown): value is BatchableQuery {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { _prepare?: unknown })._prepare === "function"
  );
}

/**
 * Marks a Drizzle query as guarded: it carries its own precondition (`.where(and(eq(t.id, id),
 * eq(t.version, v)))`), so changing no row means another writer got there first. In a batch —
 * `store.batch`, `runAtomic` on D1, `handle.batch([…])` — such a query that changes no row makes the
 * whole batch apply nothing and fail as a `conflict` whose `index` names it. Sent on its own, a
 * guard that does not hold affects nothing, and `runAtomic` reads that. Returns the query itself.
 *
 * @example
 * ```ts
 * import { and, eq } from "drizzle-orm";
 * import { drizzle } from "drizzle-orm/libsql";
 * import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
 * import { guarded } from "lockstep/drizzle";
 *
 * const kv = sqliteTable("kv", { key: text("key").primaryKey(), version: integer("version").notNull() });
 * const db = drizzle("file:app.db");
 * const bump = guarded(
 *   db.update(kv).set({ version: 4 }).where(and(eq(kv.key, "a"), eq(kv.version, 3))),
 * );
 * ```
 */
export function guarded<Query extends object>(query: Query): Query {
  if (!isQuery(query)) {
    throw new LockstepDefinitionError(
      `Expected \`guarded\` to be given a Drizzle query (\`db.update(table)…\`, unawaited), got ${describeValue(query)}.`,
    );
  }
  Object.defineProperty(query, GUARDED, { value: true });
  return query;
}

/**
 * Each write of a batch built on `handle`: a Drizzle query. Anything else is refused by position,
 * before anything is sent.
 */
export function buildQueries<Handle>(
  writes: readonly unknown[],
  handle: Handle,
): readonly unknown[] {
  if (!Array.isArray(writes)) {
    throw new StoreError(
      "not_committed",
      `Expected the batch to be an array of writes, got ${describeValue(writes)}; nothing was sent.`,
    );
  }
  return writes.map((write, index) => {
    if (typeof write !== "function") {
      throw new StoreError(
        "not_committed",
        `Expected write ${index} of the batch to be a function of the handle returning a Drizzle query, got ${describeValue(write)}; nothing was sent.`,
        { index },
      );
    }
    return (write as (handle: Handle) => unknown)(handle);
  });
}

/**
 * Sends Drizzle queries as one atomic batch through `send`, each a statement (guarded when marked
 * by {@link guarded}), and maps each of the driver's results as Drizzle's own `db.batch` does;
 * `raw` turns what `send` answers into the driver's result. Anything but a Drizzle query is
 * refused by position, before anything is sent.
 */
export async function sendBatch<Result>(
  queries: readonly unknown[],
  send: (writes: readonly BatchWrite[]) => Promise<readonly Result[]>,
  raw: (result: Result) => unknown = (result) => result,
): Promise<unknown[]> {
  const prepared = queries.map((query, index) => {
    if (!isQuery(query)) {
      throw new StoreError(
        "not_committed",
        `Expected write ${index} of the batch to be a Drizzle query (\`tx.insert(table)…\`, unawaited), got ${describeValue(query)}; nothing was sent.`,
        { index },
      );
    }
    return query._prepare();
  });
  const writes = prepared.map((query, index): BatchWrite => {
    const { sql, params } = query.getQuery();
    const marked = (queries[index] as Record<symbol, unknown>)[GUARDED] === true;
    return { sql, params, guarded: marked };
  });
  const results = await send(writes);
  return results.map((result, index) => prepared[index]?.mapResult(raw(result), true));
}
