import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type LibsqlStore,
  libsqlSagaLog,
  libsqlStore,
  openLibsql,
} from "../../../src/adapters/libsql/index.js";
import { createMemoryStore, memoryPut } from "../../../src/adapters/memory/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  explain,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../../src/index.js";
import { LockstepDefinitionError } from "../../../src/model/definition-error.js";
import { sagaRecord } from "../../conformance/saga-log.js";
import { tempLibsql } from "./libsql-test.js";

type Temp = Awaited<ReturnType<typeof tempLibsql>>;

/** A pivot inserting the order on the store; `placed` runs after its write is queued. */
function placeStep(store: LibsqlStore, placed?: () => Promise<void>) {
  return {
    store,
    kind: "pivot" as const,
    output: z.object({ id: z.string() }),
    execute: async ({
      input,
      handle,
    }: {
      input: { id: string };
      handle: LibsqlStore["handle"];
    }) => {
      // Not awaited: in a deferred batch the write applies when the batch is sent.
      void handle.run("INSERT INTO orders (id) VALUES (?)", [input.id]);
      await placed?.();
      return { id: input.id };
    },
    probe: async ({ input, handle }: { input: { id: string }; handle: LibsqlStore["handle"] }) =>
      (await handle.first("SELECT id FROM orders WHERE id = ?", [input.id]))
        ? committed({ id: input.id })
        : notCommitted(),
  };
}

function orderSaga(store: LibsqlStore) {
  const mail = createMemoryStore({ id: "mail", tier: "plain" });
  return defineSaga("libsql-order", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store: mail,
      kind: "compensatable",
      output: z.object({ held: z.boolean() }),
      execute: async ({ input, handle }) => {
        await handle.apply(memoryPut(`hold:${input.id}`, "held"));
        return { held: true };
      },
      probe: async () => committed({ held: true }),
      compensate: async () => ({ status: "compensated" as const }),
    })
    .step("place", placeStep(store))
    .build();
}

for (const mode of ["transaction", "batch"] as const) {
  describe(`a saga step on the libSQL log's own database (${mode} mode)`, () => {
    let temp: Temp;
    beforeEach(async () => {
      temp = await tempLibsql();
      await temp.client.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)");
    });
    afterEach(() => temp.close());

    it(`commits with its log records and is reported as ${mode === "batch" ? "batch_co_committed" : "co_committed"}`, async () => {
      const store = libsqlStore(temp.client, { id: "app-db", mode });
      const log = libsqlSagaLog(temp.client, { store });
      const strategy = mode === "batch" ? "batch_co_committed" : "co_committed";
      const saga = orderSaga(store);
      expect(explain(saga, { log }).steps.map((s) => s.strategy)).toEqual(["saga", strategy]);
      const report = (
        await createRunner({ log }).run(saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrap();
      expect(report.status).toBe("completed");
      expect(report.steps.map((s) => s.strategy)).toEqual(["saga", strategy]);
      expect((await store.handle.all("SELECT id FROM orders")).length).toBe(1);
      const entries = (await log.load("s-1"))?.entries ?? [];
      expect(entries.find((e) => e.step === "place" && e.type === "committed")?.via).toBe(
        "co_commit",
      );
    });

    it("runAtomic uses the strongest strategy the mode allows", async () => {
      const store = libsqlStore(temp.client, { id: "app-db", mode });
      const result = await runAtomic(store, [
        { name: "a", build: () => ({ sql: "INSERT INTO orders (id) VALUES ('a')" }) },
        { name: "b", build: () => ({ sql: "INSERT INTO orders (id) VALUES ('b')" }) },
      ]);
      expect(result._unsafeUnwrap().strategy).toBe(mode);
      const failed = await runAtomic(store, [
        { name: "c", build: () => ({ sql: "INSERT INTO orders (id) VALUES ('c')" }) },
        { name: "dup", build: () => ({ sql: "INSERT INTO orders (id) VALUES ('a')" }) },
      ]);
      expect(failed.isErr()).toBe(true);
      const ids = (await store.handle.all<{ id: string }>("SELECT id FROM orders ORDER BY id")).map(
        (r) => r.id,
      );
      expect(ids, "a failed unit applies nothing").toEqual(["a", "b"]);
    });
  });
}

describe("a saga whose first step co-commits in a libSQL batch (batch mode)", () => {
  let temp: Temp;
  beforeEach(async () => {
    temp = await tempLibsql();
    await temp.client.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)");
  });
  afterEach(() => temp.close());

  it("whose id another submitter takes first writes nothing and reports saga_exists", async () => {
    const store = libsqlStore(temp.client, { id: "app-db", mode: "batch" });
    const log = libsqlSagaLog(temp.client, { store });
    // Another submitter creates the same saga id before this step's batch (which creates it) is sent.
    const saga = defineSaga("libsql-first", { input: z.object({ id: z.string() }) })
      .step(
        "place",
        placeStep(store, () => log.create(sagaRecord("s-1"))),
      )
      .build();
    const result = await createRunner({ log }).run(saga, { id: "o-1" }, { sagaId: "s-1" });
    expect(result._unsafeUnwrapErr().code).toBe("saga_exists");
    expect(
      await store.handle.all("SELECT id FROM orders"),
      "the step's write must not land",
    ).toEqual([]);
    expect((await log.load("s-1"))?.record.definition.name, "the other saga is kept").toBe("order");
  });
});

describe("bad input to the libSQL adapter", () => {
  it("a URL that cannot be opened is a not-applied StoreError naming it", async () => {
    const url = "file:/nonexistent-lockstep-dir/sub/app.db";
    const error = await openLibsql(url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(StoreError.is(error)).toBe(true);
    expect((error as StoreError).kind).toBe("not_committed");
    expect((error as Error).message).toContain(JSON.stringify(url));
  });

  it("a URL the client refuses, and one that is not a string, are definition errors naming them", async () => {
    await expect(openLibsql("bogus://x")).rejects.toThrow(/"bogus:\/\/x"/);
    await expect(openLibsql("bogus://x")).rejects.toBeInstanceOf(LockstepDefinitionError);
    await expect(openLibsql(42 as never)).rejects.toThrow(/got `42` \(number\)/);
  });

  it("something that is not a client is refused by name", () => {
    expect(() => libsqlStore({} as never, { id: "x" })).toThrow(/@libsql\/client client.*got/);
    expect(() => libsqlSagaLog("file:app.db" as never)).toThrow(LockstepDefinitionError);
  });

  it("a batch builder that returns a non-statement is refused before anything is written", async () => {
    const temp = await tempLibsql();
    try {
      await temp.client.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)");
      for (const mode of ["transaction", "batch"] as const) {
        const store = libsqlStore(temp.client, { id: "app-db", mode });
        const result = await runAtomic(store, [
          { name: "ok", build: () => ({ sql: "INSERT INTO orders (id) VALUES ('x')" }) },
          { name: "bad", build: () => 42 as never },
        ]);
        const error = result._unsafeUnwrapErr();
        expect(error.code, mode).toBe("write_failed");
        expect(JSON.stringify(error), mode).toMatch(/42 \(number\)|statement/);
      }
      expect((await temp.client.execute("SELECT count(*) AS n FROM orders")).rows[0]?.n).toBe(0);
    } finally {
      await temp.close();
    }
  });
});
