import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { z } from "zod";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  committed,
  createRunner,
  defineSaga,
  notCommitted,
  type SagaLog,
  SagaLogError,
  StoreError,
} from "../../src/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it("a log failure before the saga was ever recorded does not promise a recovery nobody can run", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-unrecorded-"));
  dirs.push(dir);
  const db = openSqlite(join(dir, "app.db"));
  try {
    const store = sqliteStore(db);
    const real = sqliteSagaLog(db);
    // The log cannot create records (its disk is full, say); everything else works.
    const log = new Proxy(real, {
      get(target, property) {
        if (property === "create") {
          return async () => {
            throw new SagaLogError("io", "s-1", "disk full");
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as SagaLog;
    // The first step co-commits with the log, so the saga's record would be created by its commit;
    // the step is refused, so nothing commits and the record is left to the next log write.
    const saga = defineSaga("unrecorded", { input: z.object({ id: z.string() }) })
      .step("reserve", {
        store,
        kind: "compensatable",
        output: z.object({ ok: z.boolean() }),
        execute: async () => {
          throw new StoreError("not_committed", "out of stock");
        },
        probe: async () => notCommitted(),
        compensate: async () => ({ status: "compensated" }),
      })
      .step("confirm", {
        store,
        kind: "pivot",
        output: z.object({ ok: z.boolean() }),
        execute: async () => ({ ok: true }),
        probe: async () => committed({ ok: true }),
      })
      .build();
    const result = await createRunner({ log }).run(saga, { id: "s-1" }, { sagaId: "s-1" });
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe("log_failed");
    expect(await real.load("s-1"), "the saga was never recorded").toBeUndefined();
    expect(error.message).not.toContain("Recovery will resume it");
    expect(error.message).toContain("No recoverer can see it");
  } finally {
    db.close();
  }
});
