import mysql from "mysql2/promise";
import pg from "pg";
import { z } from "zod";
import { mysqlSagaLog, mysqlStore } from "../../src/adapters/mysql/index.js";
import { postgresSagaLog, postgresStore } from "../../src/adapters/postgres/index.js";
import {
  type CallScope,
  type CoCommitLog,
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  type SagaLog,
  type StepStore,
} from "../../src/index.js";

/** What the world's steps and checks ask of a handle: Postgres's and MySQL's both fit. */
export interface QueryHandle {
  query<T = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{ readonly rows: T[]; readonly rowCount: number }>;
}

/** A store of either backend, as the world uses it. */
export type FulfilStore = StepStore<QueryHandle> & {
  readonly transaction: <T>(work: (tx: QueryHandle) => Promise<T>, scope: CallScope) => Promise<T>;
};

/** The saga log of either backend. */
export type FulfilLog = SagaLog & {
  readonly coCommit: CoCommitLog<never>;
  ensureSchema(): Promise<void>;
};

/** Which database the world runs on, from its URLs' scheme. */
export type Backend = "postgres" | "mysql";

/**
 * How a statement written with `?` placeholders (and, for an insert that skips a row already there,
 * Postgres's `ON CONFLICT (…) DO NOTHING`) is spelled on each backend.
 */
function spell(backend: Backend, sql: string): string {
  if (backend === "mysql") {
    const skip = / ON CONFLICT \(\w+\) DO NOTHING/;
    return skip.test(sql)
      ? sql.replace(skip, "").replace(/^INSERT INTO/, "INSERT IGNORE INTO")
      : sql;
  }
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** A handle whose statements are written with `?` placeholders and Postgres's `ON CONFLICT`. */
function portable(backend: Backend, handle: QueryHandle): QueryHandle {
  return {
    query: (sql, params) => handle.query(spell(backend, sql), params),
  };
}

/**
 * The world the multi-process recovery test runs in. The `main` database holds the saga log, the
 * reservations (so `reserve` and `capture` are co-committed with their log records) and the `calls`
 * table every execute and compensate records itself in; the `other` database holds shipments and
 * notices, written by ordinary probed saga steps.
 */
export interface FulfilWorld {
  readonly name: string;
  readonly backend: Backend;
  readonly main: FulfilStore;
  /**
   * Runs one statement (written with `?` placeholders) on the main database outside every step's
   * transaction: the call records, and the test's own checks.
   */
  readonly mainSql: QueryHandle["query"];
  /** The same, on the other database. */
  readonly otherSql: QueryHandle["query"];
  readonly other: FulfilStore;
  readonly log: FulfilLog;
  /** Called at the start of `ship`'s execute; the parent uses it to crash there. */
  beforeShip: ((sagaId: string) => void) | undefined;
  close(): Promise<void>;
}

/** Opens the world as process `name` ("parent" or a worker's name), on the backend of the URLs. */
export function openFulfilWorld(mainUrl: string, otherUrl: string, name: string): FulfilWorld {
  return mainUrl.startsWith("mysql:")
    ? openMysqlWorld(mainUrl, otherUrl, name)
    : openPostgresWorld(mainUrl, otherUrl, name);
}

function openPostgresWorld(mainUrl: string, otherUrl: string, name: string): FulfilWorld {
  const mainPool = new pg.Pool({ connectionString: mainUrl, max: 24, application_name: name });
  const otherPool = new pg.Pool({ connectionString: otherUrl, max: 24, application_name: name });
  mainPool.on("error", () => {});
  otherPool.on("error", () => {});
  const sqlOn =
    (pool: pg.Pool): QueryHandle["query"] =>
    async <T>(sql: string, params?: readonly unknown[]) => {
      const result = await pool.query(
        spell("postgres", sql),
        params === undefined ? [] : [...params],
      );
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    };
  return {
    name,
    backend: "postgres",
    main: postgresStore(mainPool) as unknown as FulfilStore,
    mainSql: sqlOn(mainPool),
    otherSql: sqlOn(otherPool),
    other: postgresStore(otherPool) as unknown as FulfilStore,
    log: postgresSagaLog(mainPool) as unknown as FulfilLog,
    beforeShip: undefined,
    close: async () => {
      await Promise.all([mainPool.end(), otherPool.end()]);
    },
  };
}

function openMysqlWorld(mainUrl: string, otherUrl: string, name: string): FulfilWorld {
  const mainPool = mysql.createPool({ uri: mainUrl, connectionLimit: 24 });
  const otherPool = mysql.createPool({ uri: otherUrl, connectionLimit: 24 });
  const main = mysqlStore(mainPool);
  const other = mysqlStore(otherPool);
  return {
    name,
    backend: "mysql",
    main: main as unknown as FulfilStore,
    mainSql: sqlOnMysql(mainPool),
    otherSql: sqlOnMysql(otherPool),
    other: other as unknown as FulfilStore,
    log: mysqlSagaLog(mainPool) as unknown as FulfilLog,
    beforeShip: undefined,
    close: async () => {
      await Promise.all([mainPool.end(), otherPool.end()]);
    },
  };
}

/**
 * Statements on the pool itself, not through the store's root handle, which refuses to run inside
 * one of the store's own transactions (the call records are written from inside steps).
 */
function sqlOnMysql(pool: mysql.Pool): QueryHandle["query"] {
  return async <T>(sql: string, params?: readonly unknown[]) => {
    const [result] = await pool.query(spell("mysql", sql), params === undefined ? [] : [...params]);
    return Array.isArray(result)
      ? { rows: result as T[], rowCount: result.length }
      : { rows: [], rowCount: (result as { affectedRows: number }).affectedRows };
  };
}

/** Creates the business tables (the log creates its own). */
export async function createFulfilTables(world: FulfilWorld): Promise<void> {
  const text = world.backend === "mysql" ? "VARCHAR(64)" : "text";
  const statements = [
    [
      world.mainSql,
      `CREATE TABLE reservations (saga_id ${text} PRIMARY KEY, order_id ${text} NOT NULL, amount integer NOT NULL, status ${text} NOT NULL)`,
    ],
    [
      world.mainSql,
      `CREATE TABLE calls (id ${world.backend === "mysql" ? "BIGINT AUTO_INCREMENT" : "bigserial"} PRIMARY KEY, saga_id ${text} NOT NULL, step ${text} NOT NULL, kind ${text} NOT NULL, worker ${text} NOT NULL)`,
    ],
    [
      world.otherSql,
      `CREATE TABLE shipments (saga_id ${text} PRIMARY KEY, order_id ${text} NOT NULL)`,
    ],
    [
      world.otherSql,
      `CREATE TABLE notices (${world.backend === "mysql" ? "`key`" : "key"} ${text} PRIMARY KEY, saga_id ${text} NOT NULL)`,
    ],
  ] as const;
  for (const [sql, statement] of statements) await sql(statement);
  await world.log.ensureSchema();
}

/**
 * Records one call of a step's execute or compensate, on its own pooled connection (deliberately
 * not the store's handle, which refuses to leave the step's transaction), before the call does
 * anything: it stays recorded even when the step's transaction rolls back.
 */
async function record(world: FulfilWorld, sagaId: string, step: string, kind: string) {
  await world.mainSql("INSERT INTO calls (saga_id, step, kind, worker) VALUES (?, ?, ?, ?)", [
    sagaId,
    step,
    kind,
    world.name,
  ]);
}

export const fulfilInput = z.object({ orderId: z.string(), amount: z.number().int().positive() });

/**
 * reserve (compensatable, co-committed) → ship (pivot, other database, probed) → capture (retriable,
 * co-committed) → notify (retriable, other database, idempotent by key). The compensation of
 * reserve is guarded: it releases only a hold that is still held.
 */
export function fulfilSaga(world: FulfilWorld) {
  const { main, other, backend } = world;
  const on = (handle: QueryHandle) => portable(backend, handle);
  return defineSaga("fulfil", { input: fulfilInput })
    .step("reserve", {
      store: main,
      kind: "compensatable",
      output: z.object({ reservation: z.string() }),
      execute: async ({ input, sagaId, handle }) => {
        await record(world, sagaId, "reserve", "execute");
        await on(handle).query(
          "INSERT INTO reservations (saga_id, order_id, amount, status) VALUES (?, ?, ?, 'held') ON CONFLICT (saga_id) DO NOTHING",
          [sagaId, input.orderId, input.amount],
        );
        return { reservation: sagaId };
      },
      probe: async ({ sagaId, handle }) =>
        (await on(handle).query("SELECT 1 FROM reservations WHERE saga_id = ?", [sagaId]))
          .rowCount === 1
          ? committed({ reservation: sagaId })
          : notCommitted(),
      compensate: async ({ sagaId, handle }) => {
        await record(world, sagaId, "reserve", "compensate");
        const released = await on(handle).query(
          "UPDATE reservations SET status = 'released' WHERE saga_id = ? AND status = 'held'",
          [sagaId],
        );
        if (released.rowCount === 1) return compensated();
        const { rows } = await on(handle).query<{ status: string }>(
          "SELECT status FROM reservations WHERE saga_id = ?",
          [sagaId],
        );
        const status = rows[0]?.status;
        return status === undefined || status === "released"
          ? compensated()
          : guardFailed(`reservation ${sagaId} is ${status}`);
      },
    })
    .step("ship", {
      store: other,
      kind: "pivot",
      output: z.object({ shipment: z.string() }),
      execute: async ({ input, sagaId, signal, deadline }) => {
        await record(world, sagaId, "ship", "execute");
        world.beforeShip?.(sagaId);
        await other.transaction(
          (tx) =>
            on(tx).query("INSERT INTO shipments (saga_id, order_id) VALUES (?, ?)", [
              sagaId,
              input.orderId,
            ]),
          { signal, deadline },
        );
        return { shipment: sagaId };
      },
      probe: async ({ sagaId, handle }) =>
        (await on(handle).query("SELECT 1 FROM shipments WHERE saga_id = ?", [sagaId])).rowCount ===
        1
          ? committed({ shipment: sagaId })
          : notCommitted(),
    })
    .step("capture", {
      store: main,
      kind: "retriable",
      output: z.object({ captured: z.literal(true) }),
      execute: async ({ sagaId, handle }) => {
        await record(world, sagaId, "capture", "execute");
        await on(handle).query(
          "UPDATE reservations SET status = 'captured' WHERE saga_id = ? AND status = 'held'",
          [sagaId],
        );
        return { captured: true as const };
      },
    })
    .step("notify", {
      store: other,
      kind: "retriable",
      output: z.object({ notice: z.string() }),
      execute: async ({ sagaId, key, handle }) => {
        await record(world, sagaId, "notify", "execute");
        await on(handle).query(
          backend === "mysql"
            ? "INSERT IGNORE INTO notices (`key`, saga_id) VALUES (?, ?)"
            : "INSERT INTO notices (key, saga_id) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
          [key, sagaId],
        );
        return { notice: key };
      },
    })
    .build();
}

/** Where a parent run dies, and what recovery must then do with the saga. */
export interface CrashMode {
  readonly name: string;
  /** The durable log call (each create, write and co-committed create or write, from 1) that fails first. */
  readonly dieAtLogCall?: number;
  /** Die inside ship's execute, after its intent is durable and before it writes. */
  readonly dieInShip?: boolean;
  /** Where the saga stands in the log after the crash. */
  readonly stands: "before_pivot" | "pivot_in_doubt" | "after_pivot";
  /** The status recovery must end it in. */
  readonly recovered: "completed" | "compensated";
  /** The calls of execute/compensate the parent made, and the ones recovery must make. */
  readonly parentCalls: number;
  readonly recoveryCalls: number;
}

// reserve co-commits, and its transaction creates the saga's record: a run that dies before that
// commit leaves no saga at all (the SIGKILL suite covers it), so every mode here dies after it.
// The durable calls of a run are: 1 reserve's transaction (coCommit.create), 2 ship's intent,
// 3 capture's transaction (coCommit.write, carrying ship's outcome), 4 the final write (carrying
// notify's intent and outcome: notify is re-executed by its key after a crash either way).
export const CRASH_MODES: readonly CrashMode[] = [
  // reserve committed; ship's intent failed: recovery compensates reserve.
  {
    name: "ship-intent",
    dieAtLogCall: 2,
    stands: "before_pivot",
    recovered: "compensated",
    parentCalls: 1,
    recoveryCalls: 1,
  },
  // ship's intent is durable, the process died before ship wrote: the probe says not committed.
  {
    name: "ship-died",
    dieInShip: true,
    stands: "pivot_in_doubt",
    recovered: "compensated",
    parentCalls: 2,
    recoveryCalls: 1,
  },
  // ship committed, then capture ran but its transaction, which also records ship's outcome, failed
  // and rolled back: the probe says ship committed, and capture runs again.
  {
    name: "capture-rolled-back",
    dieAtLogCall: 3,
    stands: "pivot_in_doubt",
    recovered: "completed",
    parentCalls: 3,
    recoveryCalls: 2,
  },
  // notify ran; the final write, which carries its intent and outcome, failed: notify, retriable
  // without a probe, runs again by its key.
  {
    name: "final-write",
    dieAtLogCall: 4,
    stands: "after_pivot",
    recovered: "completed",
    parentCalls: 4,
    recoveryCalls: 1,
  },
];

/** A crash: from the failing call on, every log call of the run fails, as in a dead process. */
export class ProcessDied extends Error {
  constructor() {
    super("the process died");
    this.name = "ProcessDied";
  }
}

/**
 * Wraps the log for one parent run so that it dies at a chosen durable call: that call and every log
 * call after it fail, and nothing more reaches the database, exactly as if the process had stopped.
 */
export function dyingLog(
  log: FulfilLog,
  mode: CrashMode,
): { log: SagaLog; kill(): void; readonly dead: boolean } {
  let calls = 0;
  let dead = false;
  const durable = (): void => {
    if (dead) throw new ProcessDied();
    calls++;
    if (calls === mode.dieAtLogCall) {
      dead = true;
      throw new ProcessDied();
    }
  };
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>, counted: boolean) =>
    async (...args: A): Promise<R> => {
      if (counted) durable();
      else if (dead) throw new ProcessDied();
      return fn(...args);
    };
  const wrapped: SagaLog = {
    create: guard((r, entries) => log.create(r, entries), true),
    write: guard((id, token, change) => log.write(id, token, change), true),
    acquireLease: guard((...a) => log.acquireLease(...a), false),
    renewLease: guard((...a) => log.renewLease(...a), false),
    releaseLease: guard((...a) => log.releaseLease(...a), false),
    load: guard((id) => log.load(id), false),
    claimRecoverable: guard((...a) => log.claimRecoverable(...a), false),
    quarantine: guard((...a) => log.quarantine(...a), false),
    list: guard((filter) => log.list(filter), false),
    prune: guard((before) => log.prune(before), false),
    coCommit: {
      storeId: log.coCommit.storeId,
      create: guard((tx, r, entries) => log.coCommit.create(tx as never, r, entries), true),
      write: guard(
        (tx, id, token, change) => log.coCommit.write(tx as never, id, token, change),
        true,
      ),
    },
  };
  return {
    log: wrapped,
    kill: () => {
      dead = true;
    },
    get dead() {
      return dead;
    },
  };
}
