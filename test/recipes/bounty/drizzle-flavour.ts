import { drizzle } from "drizzle-orm/node-postgres";
import { drizzleSagaLog, drizzleStore } from "../../../src/adapters/drizzle/index.js";
import {
  createBountyTables,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
} from "../../../src/recipes/bounty/sql-ports.js";
import { openSchema } from "../../adapters/postgres/pg-test.js";
import { drizzlePgDialect } from "../drizzle-sql-dialect.js";
import { commitThenFail } from "./commit-then-fail.js";
import { BALANCES, BountyWorld, type Flavour } from "./harness.js";
import { fastCommits, IoTracker, trackedPgClient } from "./real-io.js";

/**
 * The Postgres flavour with every store a `drizzleStore` over one Drizzle node-postgres database:
 * the ports' statements run through Drizzle handles, and consecutive steps commit in one
 * transaction with their log records (`drizzleSagaLog`).
 */
export const drizzleFlavour: Flavour = {
  name: "drizzle on postgres (one database, co-committed)",
  strategy: "transaction",
  setup: async () => {
    const io = new IoTracker();
    const db = await openSchema({ Client: trackedPgClient(io) });
    fastCommits(db.pool);
    const raw = drizzleStore(drizzle(db.pool), { id: "bounty-db" });
    const { store, postFault } = commitThenFail(raw, []);
    await createBountyTables(drizzlePgDialect, store.handle);
    const credits = sqlCredits(store, drizzlePgDialect);
    await credits.seed(store.handle, BALANCES);
    const ports = {
      bounties: sqlBountyStore(store, drizzlePgDialect),
      claims: sqlClaimStore(store, drizzlePgDialect),
      credits,
    };
    return new BountyWorld(
      drizzleFlavour.name,
      ports,
      drizzleSagaLog(drizzle(db.pool), { schema: db.schema, store }),
      postFault,
      () => db.close(),
      { io },
    );
  },
};
