import { postgresSagaLog, postgresStore } from "../../../src/adapters/postgres/index.js";
import {
  createBountyTables,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
} from "../../../src/recipes/bounty/sql-ports.js";
import { postgresDialect } from "../../../src/recipes/sql-client.js";
import { openSchema } from "../../adapters/postgres/pg-test.js";
import { commitThenFail } from "./commit-then-fail.js";
import { BALANCES, BountyWorld, type Flavour } from "./harness.js";
import { fastCommits, IoTracker, trackedPgClient } from "./real-io.js";

/**
 * Bounties, claims, credits and the saga log in one Postgres database (a schema of its own per
 * world): consecutive steps commit in one transaction with their log records. A `post` fault on a
 * call inside a transaction lets the transaction commit, then fails it. Fails, never skips, when
 * Postgres is unreachable.
 */
export const postgresFlavour: Flavour = {
  name: "postgres (one database, co-committed)",
  strategy: "transaction",
  setup: async () => {
    const io = new IoTracker();
    const db = await openSchema({ Client: trackedPgClient(io) });
    fastCommits(db.pool);
    const raw = postgresStore(db.pool);
    const { store, postFault } = commitThenFail(raw, []);
    await createBountyTables(postgresDialect, store.handle);
    const credits = sqlCredits(store, postgresDialect);
    await credits.seed(store.handle, BALANCES);
    const ports = {
      bounties: sqlBountyStore(store, postgresDialect),
      claims: sqlClaimStore(store, postgresDialect),
      credits,
    };
    return new BountyWorld(
      postgresFlavour.name,
      ports,
      postgresSagaLog(db.pool, { schema: db.schema }),
      postFault,
      () => db.close(),
      { io },
    );
  },
};
