import { postgresSagaLog, postgresStore } from "../../../src/adapters/postgres/index.js";
import { redisStore } from "../../../src/adapters/redis/index.js";
import { redisClaimStore, redisCredits } from "../../../src/recipes/bounty/redis-ports.js";
import { createBountyTables, sqlBountyStore } from "../../../src/recipes/bounty/sql-ports.js";
import { postgresDialect } from "../../../src/recipes/sql-client.js";
import { openSchema } from "../../adapters/postgres/pg-test.js";
import { connectTestRedis } from "../../adapters/redis/redis-test-client.js";
import { commitThenFail } from "./commit-then-fail.js";
import { BALANCES, BountyWorld, type Flavour } from "./harness.js";
import { fastCommits, IoTracker, trackedPgClient, trackRedisDuplicates } from "./real-io.js";

/**
 * The saga log and bounties in one Postgres database (bounty steps co-commit with the log); claims
 * and credits on Redis under a key prefix of their own per world (probed saga steps, each movement
 * one atomic Lua batch). A `post` fault inside a Postgres transaction lands the commit, then fails;
 * on Redis the write lands, then the call fails. Fails, never skips, when either service is down.
 */
export const postgresRedisFlavour: Flavour = {
  name: "postgres + redis (claims and credits on Redis)",
  strategy: "saga",
  coCommitted: ["bounties"],
  setup: async () => {
    const io = new IoTracker();
    const redis = await connectTestRedis();
    const db = await openSchema({ Client: trackedPgClient(io) }).catch(async (error: unknown) => {
      await redis.cleanup();
      throw error;
    });
    fastCommits(db.pool);
    trackRedisDuplicates(redis.client, io);
    // Fence keys under this world's own prefix: worlds reuse saga ids, and cleanup removes them.
    const rstore = redisStore(redis.client, { fenceKeyPrefix: redis.key("fence:") });
    const raw = postgresStore(db.pool);
    const { store, postFault } = commitThenFail(raw, [rstore.handle]);
    await createBountyTables(postgresDialect, store.handle);
    const keyPrefix = redis.key("bounty:");
    const credits = redisCredits(rstore, { keyPrefix });
    await credits.seed(rstore.handle, BALANCES);
    const ports = {
      bounties: sqlBountyStore(store, postgresDialect),
      claims: redisClaimStore(rstore, { keyPrefix }),
      credits,
    };
    return new BountyWorld(
      postgresRedisFlavour.name,
      ports,
      postgresSagaLog(db.pool, { schema: db.schema }),
      postFault,
      async () => {
        await rstore.close();
        await redis.cleanup();
        await db.close();
      },
      { io },
    );
  },
};
