import { describe, expect, it } from "vitest";
import { runBatch } from "../../src/adapters/sql/batch-guard.js";
import type { BatchItem, SqlStatement } from "../../src/adapters/sql/batch-sql.js";

const taken = new Error("the saga id is taken");
const header: BatchItem = {
  check: "inserted",
  sql: "INSERT INTO p_sagas (saga_id) VALUES (?)",
  params: ["s-1"],
  key: "p_sagas.saga_id",
  lost: async () => taken,
};
const onLost = () => new Error("onLost");

/** Runs `items`, the driver failing with `message` (wrapped, as the drivers wrap it). */
function failing(items: readonly BatchItem[], message: string): Promise<unknown> {
  return runBatch(
    "p_batch_guard",
    items,
    async () => {
      throw new Error(`D1_ERROR: ${message}`, { cause: new Error(message) });
    },
    onLost,
  ).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("an insert that is its own check (`inserted`)", () => {
  it("is sent as it is, and its result is not returned", async () => {
    let sent: readonly SqlStatement[] = [];
    const results = await runBatch(
      "p_batch_guard",
      [{ sql: "INSERT INTO t VALUES (1)" }, header, { sql: "INSERT INTO e VALUES (1)" }],
      async (statements) => {
        sent = statements;
        return statements.map((s) => s.sql);
      },
      onLost,
    );
    expect(sent).toEqual([
      { sql: "INSERT INTO t VALUES (1)" },
      { sql: "INSERT INTO p_sagas (saga_id) VALUES (?)", params: ["s-1"] },
      { sql: "INSERT INTO e VALUES (1)" },
    ]);
    expect(results).toEqual(["INSERT INTO t VALUES (1)", "INSERT INTO e VALUES (1)"]);
  });

  it("fails the batch with its `lost` when the driver names its key as violated", async () => {
    const error = await failing(
      [{ sql: "INSERT INTO t VALUES (1)" }, header],
      "UNIQUE constraint failed: p_sagas.saga_id: SQLITE_CONSTRAINT",
    );
    expect(error).toBe(taken);
  });

  it("leaves any other failure as the driver's, a longer key or another table's included", async () => {
    const cases = [
      "UNIQUE constraint failed: t.id: SQLITE_CONSTRAINT",
      "UNIQUE constraint failed: p_sagas.saga_id_old",
      "UNIQUE constraint failed: xp_sagas.saga_id",
      "NOT NULL constraint failed: p_sagas.name",
    ];
    for (const message of cases) {
      const error = await failing([header], message);
      expect((error as Error).message, message).toBe(`D1_ERROR: ${message}`);
    }
    expect(cases).toHaveLength(4);
  });
});
