import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  classifyPostgresError,
  isConnectionLoss,
  type PostgresStore,
  postgresStore,
  sqlstateOf,
} from "../../../src/adapters/postgres/index.js";
import { classifyError } from "../../../src/core/error-kinds.js";
import type { ErrorKind } from "../../../src/model/error-kind.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { type CommitGate, installCommitGate, waitFor } from "./commit-gate.js";
import { openPool, openSchema, type TestSchema } from "./pg-test.js";
import { type CuttingProxy, startCuttingProxy } from "./tcp-proxy.js";

/** An error shaped like pg's DatabaseError for a SQLSTATE. */
const serverError = (code: string) => Object.assign(new Error(`server said ${code}`), { code });
/** An error shaped like node's socket errors. */
const socketError = (code: string) => Object.assign(new Error(`socket ${code}`), { code });

/** The first link of a `.cause` chain that carries a SQLSTATE. */
function sqlstate(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && typeof current === "object" && current !== null; depth++) {
    const code = sqlstateOf(current);
    if (code !== undefined) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

describe("classifyPostgresError", () => {
  it("maps SQLSTATEs to kinds", () => {
    const cases: [code: string, kind: ErrorKind | undefined][] = [
      ["23505", "not_committed"],
      ["23503", "not_committed"],
      ["23514", "not_committed"],
      ["22012", "not_committed"],
      ["42P01", "not_committed"],
      ["P0001", "not_committed"],
      ["25P02", "not_committed"],
      ["40001", "transient"],
      ["40P01", "transient"],
      ["53300", "transient"],
      ["53100", "transient"],
      ["57P03", "transient"],
      ["08001", "transient"],
      ["08004", "transient"],
      ["57014", "unknown"],
      ["08006", "unknown"],
      ["08003", "unknown"],
      ["57P01", "unknown"],
      ["57P02", "unknown"],
      ["40003", "unknown"],
      ["XX000", undefined],
      ["55P03", undefined],
    ];
    expect(cases, "every case is checked").toHaveLength(22);
    for (const [code, kind] of cases)
      expect(classifyPostgresError(serverError(code)), code).toBe(kind);
  });

  it("maps socket errors and pg's own messages by whether anything could have been sent", () => {
    const cases: [error: Error, kind: ErrorKind | undefined][] = [
      [socketError("ECONNREFUSED"), "transient"],
      [socketError("ENOTFOUND"), "transient"],
      [socketError("ECONNRESET"), "unknown"],
      [socketError("EPIPE"), "unknown"],
      [socketError("ETIMEDOUT"), "unknown"],
      [new Error("Connection terminated unexpectedly"), "unknown"],
      [new Error("Connection terminated"), "unknown"],
      [new Error("Client has encountered a connection error and is not queryable"), "transient"],
      [new Error("Client was closed and is not queryable"), "transient"],
      [new Error("timeout exceeded when trying to connect"), "transient"],
      [new Error("Cannot use a pool after calling end on the pool"), "not_committed"],
      [new Error("something else"), undefined],
    ];
    expect(cases, "every case is checked").toHaveLength(12);
    for (const [error, kind] of cases)
      expect(classifyPostgresError(error), error.message).toBe(kind);
    expect(sqlstateOf(socketError("EPIPE")), "EPIPE is not a SQLSTATE").toBeUndefined();
    expect(classifyPostgresError("23505")).toBeUndefined();
    expect(classifyPostgresError(null)).toBeUndefined();
  });

  it("is found through .cause chains by the core, and connection losses are recognized there too", () => {
    const wrapped = new Error("repository failed", {
      cause: new Error("driver failed", { cause: serverError("40001") }),
    });
    expect(classifyError(wrapped, classifyPostgresError)).toBe("transient");
    expect(classifyError(wrapped), "without the adapter's classifier it stays unknown").toBe(
      "unknown",
    );
    expect(isConnectionLoss(new Error("x", { cause: socketError("ECONNRESET") }))).toBe(true);
    expect(isConnectionLoss(serverError("57P01"))).toBe(true);
    expect(isConnectionLoss(serverError("23505"))).toBe(false);
  });
});

describe("Postgres errors at the store boundary", () => {
  let db: TestSchema;
  let store: PostgresStore;

  const count = async () =>
    Number((await store.handle.query<{ n: string }>("SELECT count(*) AS n FROM users")).rows[0]?.n);

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    await store.handle.query("CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE)");
    await store.handle.query("INSERT INTO users (email) VALUES ('a@example.com')");
  });

  afterEach(() => db.close());

  it("a unique violation is not_committed, through the root handle and inside a transaction", async () => {
    let thrown: unknown;
    try {
      await store.handle.query("INSERT INTO users (email) VALUES ('a@example.com')");
    } catch (error) {
      thrown = error;
    }
    expect(sqlstate(thrown)).toBe("23505");
    expect(classifyError(new Error("wrapped", { cause: thrown }), store.classifyError)).toBe(
      "not_committed",
    );
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO users (email) VALUES ('b@example.com')");
        await tx.query("INSERT INTO users (email) VALUES ('a@example.com')");
      }, scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(sqlstate(error)).toBe("23505");
    expect(await count()).toBe(1);
  });

  it("a statement cancelled by statement_timeout (57014) through the root handle is unknown", async () => {
    const pool = openPool({ statement_timeout: 50, max: 1 });
    const impatient = postgresStore(pool);
    let thrown: unknown;
    try {
      await impatient.handle.query("SELECT pg_sleep(30)");
    } catch (error) {
      thrown = error;
    } finally {
      await pool.end();
    }
    expect(sqlstate(thrown)).toBe("57014");
    expect(classifyError(thrown, impatient.classifyError)).toBe("unknown");
  });

  it("a refused connection is transient, at the root handle and when a transaction begins", async () => {
    const nowhere = new pg.Pool({ host: "127.0.0.1", port: 1, database: "none", max: 1 });
    nowhere.on("error", () => {});
    try {
      const refused = postgresStore(nowhere);
      let thrown: unknown;
      try {
        await refused.handle.query("SELECT 1");
      } catch (error) {
        thrown = error;
      }
      expect((thrown as { code?: string }).code).toBe("ECONNREFUSED");
      expect(classifyError(thrown, refused.classifyError)).toBe("transient");
      const { scope } = openScope();
      const error = await storeFailure(refused.transaction((tx) => tx.query("SELECT 1"), scope));
      expect(error.kind).toBe("transient");
      expect(error.message).toMatch(/Could not obtain a connection/);
    } finally {
      await nowhere.end();
    }
  });

  it("a deferred foreign key violated at COMMIT is not_committed and leaves nothing", async () => {
    await store.handle.query("CREATE TABLE parents (id integer PRIMARY KEY)");
    await store.handle.query(
      "CREATE TABLE children (id integer PRIMARY KEY, parent integer REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)",
    );
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO users (email) VALUES ('f@example.com')");
        await tx.query("INSERT INTO children VALUES (1, 99)");
      }, scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(error.message).toMatch(/COMMIT failed/);
    expect(sqlstate(error)).toBe("23503");
    expect(await count(), "nothing of the refused commit may remain").toBe(1);
  });

  it("a backend terminated inside a transaction rolls it back: transient, nothing applied", async () => {
    const { scope } = openScope();
    const running = store.transaction(async (tx) => {
      await tx.query("INSERT INTO users (email) VALUES ('t@example.com')");
      const { rows } = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const pid = rows[0]?.pid;
      await db.admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await waitFor(`backend ${pid} to exit`, async () =>
        (await db.admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rows
          .length === 0
          ? true
          : undefined,
      );
      // Whether pg has noticed the loss yet or not, this statement cannot run: COMMIT is never sent.
      await tx.query("INSERT INTO users (email) VALUES ('u@example.com')");
    }, scope);
    const error = await storeFailure(running);
    expect(error.kind, error.message).toBe("transient");
    expect(await count()).toBe(1);
  });

  describe("when the connection is lost during COMMIT", () => {
    let gate: CommitGate;

    beforeEach(async () => {
      gate = await installCommitGate(db.admin, `"${db.schema}"."users"`);
    });

    afterEach(() => gate.open());

    it("a backend terminated while its COMMIT runs is unknown (here it had not landed)", async () => {
      await gate.close();
      const { scope } = openScope();
      const running = storeFailure(
        store.transaction(
          (tx) => tx.query("INSERT INTO users (email) VALUES ('c@example.com')"),
          scope,
        ),
      );
      await gate.terminate(await gate.blockedCommit(db.schema));
      const error = await running;
      expect(error.kind, "a lost COMMIT may have landed, so it must not say not applied").toBe(
        "unknown",
      );
      expect(error.message).toMatch(/COMMIT failed/);
      expect(sqlstate(error)).toBe("57P01");
      await gate.open();
      expect(await count(), "the terminated commit did not land").toBe(1);
    });

    it("an abort while COMMIT is in flight is unknown, and settles only once the commit can no longer land", async () => {
      await gate.close();
      const { scope, controller } = openScope();
      const running = storeFailure(
        store.transaction(
          (tx) => tx.query("INSERT INTO users (email) VALUES ('d@example.com')"),
          scope,
        ),
      );
      await gate.blockedCommit(db.schema);
      controller.abort(new Error("caller gave up"));
      const error = await running;
      // Whether a COMMIT in flight landed is never knowable from the client: `unknown`.
      expect(error.kind).toBe("unknown");
      // But the call settled only after the store terminated the backend and saw it gone, so the
      // abandoned COMMIT can no longer land: a backend left to itself would finish it once the
      // gate opens, and a probe made before that would have been wrong.
      const { rows } = await db.admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query = 'COMMIT'",
        [db.schema],
      );
      expect(rows, "the committing backend outlived the call").toHaveLength(0);
      await gate.open();
      expect(await count()).toBe(1);
    });
  });

  describe("when the answer to a COMMIT that landed is lost", () => {
    let proxy: CuttingProxy;

    beforeEach(async () => {
      proxy = await startCuttingProxy();
    });

    afterEach(() => proxy.close());

    it("the commit is durable but the store can only say unknown", async () => {
      const pool = openPool({
        connectionString: proxy.url,
        options: `-c search_path=${db.schema}`,
      });
      const through = postgresStore(pool);
      const cut = proxy.cutAfterNextCommit();
      const { scope } = openScope();
      const error = await storeFailure(
        through.transaction(
          (tx) => tx.query("INSERT INTO users (email) VALUES ('e@example.com')"),
          scope,
        ),
      );
      await cut;
      await pool.end();
      expect(error.kind).toBe("unknown");
      expect(error.message).toMatch(/COMMIT failed/);
      expect(await count(), "the commit landed although its answer was lost").toBe(2);
    });
  });
});
