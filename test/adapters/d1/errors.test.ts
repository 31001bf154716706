import { describe, expect, it } from "vitest";
import { classifyD1Error, d1SagaLog, d1Store } from "../../../src/adapters/d1/index.js";
import { classifyError, runAtomic } from "../../../src/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { openScope, storeFailure } from "../../conformance/transaction.js";
import { testD1 } from "./d1-test.js";

describe("classifyD1Error", () => {
  const cases: [string, string][] = [
    ["D1_ERROR: UNIQUE constraint failed: t.k: SQLITE_CONSTRAINT", "not_committed"],
    ["D1_ERROR: no such table: missing: SQLITE_ERROR", "not_committed"],
    ["D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined'", "not_committed"],
    ["D1_ERROR: database is locked: SQLITE_BUSY", "transient"],
    ["D1_ERROR: Network connection lost.", "unknown"],
    ["D1_ERROR: internal error; reference = abc", "unknown"],
    ["D1 DB storage operation exceeded timeout which caused object to be reset.", "unknown"],
    ["something else entirely", "unknown"],
  ];
  for (const [message, kind] of cases) {
    it(`${JSON.stringify(message)} is ${kind}`, () => {
      expect(
        classifyError(new Error("wrapped", { cause: new Error(message) }), classifyD1Error),
      ).toBe(kind);
    });
  }
  it("covers every case", () => {
    expect(cases).toHaveLength(8);
  });
});

describe("bad input to the D1 adapter", () => {
  it("a binding that is not a D1 database is refused, naming it", () => {
    for (const bad of [undefined, null, "DB", { prepare: () => {} }, { batch: () => {} }]) {
      expect(() => d1Store(bad as never, { id: "x" })).toThrow(LockstepDefinitionError);
      expect(() => d1SagaLog(bad as never)).toThrow(LockstepDefinitionError);
    }
    expect(() => d1Store({ prepare: 1 } as never, { id: "x" })).toThrow(
      /Cloudflare D1 database binding.*got `\[object Object\]` \(object\)/,
    );
  });

  it("a store without an id is refused, naming the value", async () => {
    const db = await testD1();
    expect(() => d1Store(db, {} as never)).toThrow(/`id`/);
  });

  it("a batch builder that returns non-statements fails before anything is written", async () => {
    const db = await testD1();
    const store = d1Store(db, { id: "bad-input", tablePrefix: "bad_" });
    await store.handle.run("CREATE TABLE bad_orders (id TEXT PRIMARY KEY)");
    for (const bad of [
      42,
      null,
      { sql: "" },
      { sql: "INSERT INTO bad_orders VALUES ('z')", params: "z" },
    ]) {
      const result = await runAtomic(store, [
        { name: "ok", build: () => ({ sql: "INSERT INTO bad_orders (id) VALUES ('x')" }) },
        { name: "bad", build: () => bad as never },
      ]);
      const error = result._unsafeUnwrapErr();
      expect(error.code).toBe("write_failed");
      expect((error as { kind?: string }).kind).toBe("not_committed");
    }
    const direct = await storeFailure(
      store.batch([{ sql: "SELECT 1" }, 7 as never], openScope().scope),
    );
    expect(direct.message).toMatch(/write 1 of the batch.*got `7` \(number\)/);
    expect(direct.index).toBe(1);
    expect(await store.handle.all("SELECT id FROM bad_orders"), "nothing was written").toEqual([]);
  });
});
