import { afterEach, beforeEach, expect, it } from "vitest";
import { postgresStore } from "../../../src/adapters/postgres/index.js";
import { openSchema, type TestSchema } from "./pg-test.js";

let db: TestSchema;
beforeEach(async () => {
  db = await openSchema({ max: 1 });
  await db.admin.query(`CREATE TABLE "${db.schema}".notes (id text PRIMARY KEY)`);
});
afterEach(() => db.close());

it("a step's query abandoned while it waits for a connection is never sent", async () => {
  const store = postgresStore(db.pool, { id: "notes" });
  // The pool's only connection is busy, so the step's query waits for it.
  const busy = await db.pool.connect();
  const controller = new AbortController();
  const handle = store.handleFor?.(
    { signal: controller.signal, deadline: Date.now() + 60_000 },
    { sagaId: "s", step: "note", key: "s:note", fencingToken: 1 },
  );
  if (handle === undefined) throw new Error("the Postgres store binds step handles to their call");
  const query = handle.query("INSERT INTO notes (id) VALUES ('late')");
  controller.abort(new Error("the step timed out"));
  busy.release();
  await expect(query).rejects.toMatchObject({ kind: "not_committed" });
  const { rows } = await db.admin.query(`SELECT id FROM "${db.schema}".notes`);
  expect(rows, "the abandoned statement was sent once a connection came free").toEqual([]);
});
