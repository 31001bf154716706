import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { defineStore } from "../../../src/index.js";
import {
  createBountyTables,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
} from "../../../src/recipes/bounty/sql-ports.js";
import { sqliteDialect } from "../../../src/recipes/sql-client.js";
import { BALANCES, BountyWorld, type Flavour } from "./harness.js";

/**
 * Every port and the saga log in one SQLite file: consecutive steps commit together with their log
 * records. A `post` fault on a call inside a transaction lets the transaction commit, then fails it.
 */
export const sqliteFlavour: Flavour = {
  name: "sqlite (one database, co-committed)",
  strategy: "transaction",
  setup: async () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-bounty-"));
    const db = openSqlite(join(dir, "bounty.db"));
    const raw = sqliteStore(db);
    let afterCommit: unknown;
    const transaction = raw.transaction;
    const store = defineStore({
      id: raw.id,
      handle: raw.handle,
      capabilities: raw.capabilities,
      transaction: async (work, scope) => {
        let result: Awaited<ReturnType<typeof work>>;
        try {
          result = await transaction(work, scope);
        } catch (error) {
          // Rolled back: a fault meant for after the commit never happens.
          afterCommit = undefined;
          throw error;
        }
        if (afterCommit !== undefined) {
          const error = afterCommit;
          afterCommit = undefined;
          throw error;
        }
        return result;
      },
      apply: raw.apply,
      affected: raw.affected,
      ...(raw.classifyError ? { classifyError: raw.classifyError } : {}),
    });
    await createBountyTables(sqliteDialect, store.handle);
    const credits = sqlCredits(store, sqliteDialect);
    await credits.seed(store.handle, BALANCES);
    const ports = {
      bounties: sqlBountyStore(store, sqliteDialect),
      claims: sqlClaimStore(store, sqliteDialect),
      credits,
    };
    return new BountyWorld(
      sqliteFlavour.name,
      ports,
      sqliteSagaLog(db),
      async (handle, error) => {
        if (handle !== store.handle) {
          afterCommit = error;
          return;
        }
        throw error;
      },
      async () => {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    );
  },
};
