import { mysqlSagaLog, mysqlStore } from "../../../src/adapters/mysql/index.js";
import {
  createBountyTables,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
} from "../../../src/recipes/bounty/sql-ports.js";
import { mysqlDialect } from "../../../src/recipes/sql-client.js";
import { openDatabase } from "../../adapters/mysql/mysql-test.js";
import { commitThenFail } from "./commit-then-fail.js";
import { BALANCES, BountyWorld, type Flavour } from "./harness.js";
import { IoTracker, trackMysqlPool } from "./real-io.js";

/**
 * Bounties, claims, credits and the saga log in one MySQL/MariaDB database (a database of its own
 * per world): consecutive steps commit in one transaction with their log records. A `post` fault on
 * a call inside a transaction lets the transaction commit, then fails it. Fails, never skips, when
 * the server is unreachable.
 */
export const mysqlFlavour: Flavour = {
  name: "mysql (one database, co-committed)",
  strategy: "transaction",
  setup: async () => {
    const io = new IoTracker();
    const db = await openDatabase();
    trackMysqlPool(db.pool, io);
    const raw = mysqlStore(db.pool, { id: "bounty-db", isolation: "read committed" });
    const { store, postFault } = commitThenFail(raw, []);
    await createBountyTables(mysqlDialect, store.handle);
    const credits = sqlCredits(store, mysqlDialect);
    await credits.seed(store.handle, BALANCES);
    const ports = {
      bounties: sqlBountyStore(store, mysqlDialect),
      claims: sqlClaimStore(store, mysqlDialect),
      credits,
    };
    return new BountyWorld(
      mysqlFlavour.name,
      ports,
      mysqlSagaLog(db.pool, { store }),
      postFault,
      () => db.close(),
      { io },
    );
  },
};
