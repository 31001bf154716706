import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { sagaLogConformance } from "../conformance/saga-log.js";

sagaLogConformance("sqliteSagaLog on a file database", async () => {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-"));
  const db = openSqlite(join(dir, "log.db"));
  return {
    log: sqliteSagaLog(db),
    close: async () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

sagaLogConformance("sqliteSagaLog on an in-memory database", async () => {
  const db = openSqlite(":memory:");
  return { log: sqliteSagaLog(db), close: async () => db.close() };
});
