import type { CallScope } from "../../core/deadline.js";
import { StoreError } from "../../core/error-kinds.js";
import { classifyD1Error } from "../d1/classify-d1-error.js";
import { assertD1Binding, type D1DatabaseLike } from "../d1/d1-binding.js";
import { d1Store } from "../d1/d1-store.js";
import type { BatchHandle } from "../sql/batch-handle.js";
import type { StatementResult } from "../sql/batch-sql.js";
import { attachScope, deferredScopeOf } from "../sql/deferred-batch.js";
import { defineDrizzleStore } from "./define-drizzle-store.js";
import { buildQueries, sendBatch } from "./drizzle-batch.js";
import {
  type DrizzleInternals,
  type DrizzleSession,
  databaseOver,
  sessionOver,
} from "./drizzle-dialect.js";
import type { DrizzleStoreOptions } from "./drizzle-store-options.js";
import type {
  DrizzleBatchHandle,
  DrizzleBatchStore,
  DrizzleDatabase,
  DrizzleWriteOn,
} from "./drizzle-types.js";

/** A D1 result as Drizzle's D1 session reads it. */
interface D1Result {
  readonly success: true;
  readonly results: Record<string, unknown>[];
  readonly meta: { readonly changes: number; readonly last_row_id: number };
}

/** What Drizzle's D1 session calls on its client's prepared statements. */
interface D1StatementOver {
  bind(...values: unknown[]): D1StatementOver;
  run(): Promise<D1Result>;
  all(): Promise<D1Result>;
  raw(): Promise<unknown[]>;
}

/** Where the statements of one Drizzle D1 handle go. */
interface D1Route {
  /**
   * The store's handle for the call (the root handle, a step call's fenced handle, a deferred
   * batch's): every write, and every read whose rows are objects, go through it.
   */
  readonly statements: BatchHandle;
  /**
   * What runs before a read is sent to the binding itself, for its rows as arrays (as Drizzle
   * reads a query with selected fields, so that two columns of one name stay apart).
   */
  readonly beforeRead: () => Promise<void>;
}

/** A statement that only reads: a `SELECT`, or a `WITH` that writes nothing. */
const READ = /^\s*(?:select\b|with\b(?![\s\S]*\b(?:insert|update|delete|replace)\b))/i;

function d1ResultOf(result: StatementResult): D1Result {
  return {
    success: true,
    results: [...result.rows],
    meta: { changes: result.changes, last_row_id: result.lastRowId ?? 0 },
  };
}

/**
 * A D1 binding as Drizzle's D1 session uses it, whose statements go through `route`: a write (and
 * a `RETURNING` one) through the route's handle, so it is fenced or queued as the handle is; a read
 * with objects for rows through the handle too, and one with arrays for rows to the binding itself.
 */
function clientOver(binding: D1DatabaseLike, route: D1Route) {
  const statement = (sql: string, params: readonly unknown[]): D1StatementOver => {
    const read = READ.test(sql);
    const write = () => route.statements.run(sql, params);
    return {
      bind: (...values) => statement(sql, values),
      run: async () => d1ResultOf(await write()),
      all: async () => {
        if (!read) return d1ResultOf(await write());
        const rows = await route.statements.all<Record<string, unknown>>(sql, params);
        return d1ResultOf({ rows, changes: 0, lastRowId: undefined });
      },
      raw: async () => {
        if (!read) return (await write()).rows.map((row) => Object.values(row));
        await route.beforeRead();
        const prepared = binding.prepare(sql);
        const bound = params.length === 0 ? prepared : prepared.bind(...params);
        return (bound as unknown as { raw(): Promise<unknown[]> }).raw();
      },
    };
  };
  return { prepare: (sql: string) => statement(sql, []) };
}

const RUNS = ["run", "all", "get", "values"] as const;

/**
 * The session's `prepareQuery`, with each prepared query's promises passed through `settled`.
 */
function settledQueries(session: DrizzleSession, settled: <T>(promise: Promise<T>) => Promise<T>) {
  return function prepareQuery(this: DrizzleSession, ...args: unknown[]) {
    const prepared = session.prepareQuery.apply(this, args) as Record<
      (typeof RUNS)[number],
      (...args: unknown[]) => Promise<unknown>
    >;
    for (const name of RUNS) {
      const run = prepared[name];
      prepared[name] = (...runArgs) => settled(run.apply(prepared, runArgs));
    }
    return prepared;
  };
}

/**
 * `drizzleStore` on D1: lockstep's D1 store on the same binding, each of its handles (root, a step
 * call's, a deferred batch's) behind a Drizzle database.
 */
export function drizzleD1Store<Db extends DrizzleDatabase>(
  db: Db,
  options: DrizzleStoreOptions,
): DrizzleBatchStore<Db> {
  const binding = (db as unknown as DrizzleInternals).$client;
  assertD1Binding(binding, "db.$client");
  const inner = d1Store(binding, {
    id: options.id as string,
    ...(options.tablePrefix === undefined ? {} : { tablePrefix: options.tablePrefix }),
    ...(options.versionsNeverReused === undefined
      ? {}
      : { versionsNeverReused: options.versionsNeverReused }),
  });
  const { id } = inner;
  const session = (db as unknown as DrizzleInternals).session;
  const over = (route: D1Route, queued = false) => {
    // A queued write settles once the batch is sent; its failure is the batch's, reported by it,
    // so a step that does not await it (as it must not) leaves no unhandled rejection behind.
    const settled = <T>(promise: Promise<T>): Promise<T> => {
      if (queued) promise.catch(() => {});
      return promise;
    };
    const batch = (queries: readonly unknown[]) =>
      settled(sendBatch(queries, (writes) => route.statements.batch(writes), d1ResultOf));
    const own = queued ? { batch, prepareQuery: settledQueries(session, settled) } : { batch };
    const routed = sessionOver(session, clientOver(binding, route), own);
    return databaseOver(db, routed, { batch }) as unknown as DrizzleBatchHandle<Db>;
  };
  const handle = over({ statements: inner.handle, beforeRead: async () => {} });
  const batch = async (
    writes: readonly DrizzleWriteOn<DrizzleBatchHandle<Db>>[],
    scope: CallScope,
  ) => sendBatch(buildQueries(writes, handle), (items) => inner.batch(items, scope), d1ResultOf);
  const deferredBatch = <T>(
    work: (batch: DrizzleBatchHandle<Db>) => Promise<T>,
    scope: CallScope,
  ) =>
    inner.deferredBatch((unit) => {
      const scoped = deferredScopeOf(unit);
      const queued = over(
        {
          statements: unit,
          beforeRead: async () => {
            if (scoped?.active !== false) return;
            throw new StoreError(
              "not_committed",
              `The batch on "${id}" has already been sent; a statement through its handle was refused.`,
            );
          },
        },
        true,
      );
      // The saga log appends its records to the batch behind the Drizzle handle, as behind `unit`.
      if (scoped !== undefined) attachScope(queued, scoped);
      return work(queued);
    }, scope);
  const handleFor = inner.handleFor as NonNullable<typeof inner.handleFor>;
  return defineDrizzleStore(
    {
      id,
      handle,
      // Each call one batch that raises the saga's fencing token (a read raises it, then reads).
      handleFor: (scope, call) => {
        const fenced = handleFor(scope, call);
        return over({
          statements: fenced,
          beforeRead: async () => {
            await fenced.all("SELECT 1");
          },
        });
      },
      fence: { mode: "fence_token" },
      capabilities: { atomicBatch: true },
      versionsNeverReused: options.versionsNeverReused,
      classifyError: classifyD1Error,
      driver: "d1",
    },
    { batch, deferredBatch },
  );
}
