import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type PostgresStore, postgresStore } from "../../../src/adapters/postgres/index.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { openSchema, type TestSchema } from "./pg-test.js";

describe("postgresStore savepoints", () => {
  let db: TestSchema;
  let store: PostgresStore;

  const names = async () =>
    (await store.handle.query<{ name: string }>("SELECT name FROM items ORDER BY name")).rows.map(
      (r) => r.name,
    );

  beforeEach(async () => {
    db = await openSchema();
    store = postgresStore(db.pool);
    await store.handle.query("CREATE TABLE items (name text PRIMARY KEY)");
  });

  afterEach(() => db.close());

  it("declares savepoints, and only transaction handles offer them", () => {
    expect(store.capabilities).toEqual({
      transactions: true,
      atomicBatch: false,
      conditionalWrite: true,
      savepoints: true,
      versionsNeverReused: false,
    });
    expect(store.handle.savepoint).toBeUndefined();
  });

  it("a failing savepoint undoes only its own writes; the transaction goes on and commits", async () => {
    const { scope } = openScope();
    const boom = new Error("nested failure");
    let caught: unknown;
    await store.transaction(async (tx) => {
      await tx.query("INSERT INTO items VALUES ('outer-before')");
      caught = await tx
        .savepoint(async (sp) => {
          await sp.query("INSERT INTO items VALUES ('nested')");
          throw boom;
        })
        .catch((error: unknown) => error);
      await tx.query("INSERT INTO items VALUES ('outer-after')");
    }, scope);
    expect(caught, "the savepoint rethrows its callback's error").toBe(boom);
    expect(await names()).toEqual(["outer-after", "outer-before"]);
  });

  it("a statement error inside a savepoint leaves the outer transaction usable", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.query("INSERT INTO items VALUES ('a')");
      const error = await tx
        .savepoint((sp) => sp.query("INSERT INTO items VALUES ('a')"))
        .catch((e: unknown) => e);
      expect((error as { code?: string }).code, "the unique violation surfaces").toBe("23505");
      await tx.query("INSERT INTO items VALUES ('b')");
    }, scope);
    expect(await names(), "without the savepoint the whole transaction would be lost").toEqual([
      "a",
      "b",
    ]);
  });

  it("nested savepoints roll back independently and commit with the transaction", async () => {
    const { scope } = openScope();
    await store.transaction(async (tx) => {
      await tx.savepoint(async (one) => {
        await one.query("INSERT INTO items VALUES ('one')");
        await one
          .savepoint(async (two) => {
            await two.query("INSERT INTO items VALUES ('two')");
            throw new Error("undo two");
          })
          .catch(() => {});
        await one.savepoint((three) => three.query("INSERT INTO items VALUES ('three')"));
      });
    }, scope);
    expect(await names()).toEqual(["one", "three"]);
  });

  it("while a savepoint is open the outer handle is refused, and a finished savepoint's handle too", async () => {
    const { scope } = openScope();
    let outerRefusal: unknown;
    let lateRefusal: unknown;
    await store.transaction(async (tx) => {
      let escaped: typeof tx | undefined;
      await tx.savepoint(async (sp) => {
        escaped = sp;
        outerRefusal = await storeFailure(tx.query("INSERT INTO items VALUES ('outer')"));
        await sp.query("INSERT INTO items VALUES ('inner')");
      });
      lateRefusal = await storeFailure(
        (escaped as typeof tx).query("INSERT INTO items VALUES ('late')"),
      );
    }, scope);
    expect(String(outerRefusal)).toMatch(/A savepoint is open inside this transaction/);
    expect(String(lateRefusal)).toMatch(/savepoint scope this handle belongs to .* has ended/);
    expect(await names()).toEqual(["inner"]);
  });

  it("a swallowed statement error inside a savepoint rolls the savepoint back and says so", async () => {
    const { scope } = openScope();
    let failure: unknown;
    await store.transaction(async (tx) => {
      failure = await tx
        .savepoint(async (sp) => {
          await sp.query("INSERT INTO items VALUES ('kept-out')");
          await sp.query("SELECT 1 / 0").catch(() => {});
          return "reported as success";
        })
        .catch((error: unknown) => error);
      await tx.query("INSERT INTO items VALUES ('after')");
    }, scope);
    expect(String(failure)).toMatch(/failed and the savepoint could not be released/);
    expect(await names()).toEqual(["after"]);
  });

  it("a swallowed statement error outside any savepoint fails the whole transaction as not_committed", async () => {
    const { scope } = openScope();
    const error = await storeFailure(
      store.transaction(async (tx) => {
        await tx.query("INSERT INTO items VALUES ('lost')");
        await tx.query("SELECT 1 / 0").catch(() => {});
        return "the work believes it succeeded";
      }, scope),
    );
    expect(error.kind).toBe("not_committed");
    expect(error.message).toMatch(/already failed the transaction/);
    expect(await names()).toEqual([]);
  });
});
