import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../../src/adapters/memory/index.js";
import {
  postgresSagaLog,
  postgresStore,
  postgresStoreId,
} from "../../../src/adapters/postgres/index.js";
import {
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  notCommitted,
  type SagaLog,
} from "../../../src/index.js";
import { CrashSwitch } from "../../../src/testing/crash-switch.js";
import { openPool, openSchema, PG_URL, type TestSchema } from "./pg-test.js";

const TTL = 200;
/** A first step on another store, so the saga's creation is logged before the Postgres step. */
const quotes = createMemoryStore({ tier: "plain", id: "quotes" });

/** The test database's URL with its host spelled `host`. */
function spelled(host: string): string {
  const url = new URL(PG_URL);
  url.hostname = host;
  return url.toString();
}

function reserveSaga(store: ReturnType<typeof postgresStore>, crash?: CrashSwitch) {
  return defineSaga("reserve-order", { input: z.object({ orderId: z.string() }) })
    .step("quote", {
      store: quotes,
      kind: "retriable",
      output: z.object({ ok: z.boolean() }),
      execute: async () => ({ ok: true }),
    })
    .step("reserve", {
      store,
      kind: "retriable",
      output: z.object({ orderId: z.string() }),
      execute: async ({ input, handle }) => {
        await handle.query("INSERT INTO holds (id) VALUES ($1) ON CONFLICT DO NOTHING", [
          input.orderId,
        ]);
        return { orderId: input.orderId };
      },
      probe: async () => notCommitted(),
    })
    .step("confirm", {
      store,
      kind: "retriable",
      output: z.object({ confirmed: z.boolean() }),
      execute: async ({ input, handle }) => {
        // The process dies here, after the first step (and the saga's creation) committed.
        if (crash !== undefined) crash.trip("confirm");
        await handle.query("UPDATE holds SET id = id WHERE id = $1", [input.orderId]);
        return { confirmed: true };
      },
      probe: async () => notCommitted(),
    })
    .build();
}

describe("a store's identity across spellings of one server", () => {
  let db: TestSchema;
  const pools: { end(): Promise<void> }[] = [];
  const poolOn = (host: string) => {
    const pool = openPool({
      connectionString: spelled(host),
      options: `-c search_path=${db.schema}`,
      max: 4,
    });
    pools.push(pool);
    return pool;
  };

  beforeEach(async () => {
    db = await openSchema();
    await db.admin.query(`CREATE TABLE "${db.schema}".holds (id text PRIMARY KEY)`);
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    await db.close();
  });

  /** Runs the saga on `store` until its step starts, then "dies", leaving its lease to expire. */
  async function strand(store: ReturnType<typeof postgresStore>, log: SagaLog): Promise<void> {
    const crash = new CrashSwitch();
    const runner = createRunner({ log: crash.wrapLog(log), leaseTtlMs: TTL });
    await runner.run(reserveSaga(store, crash), { orderId: "o-1" });
    expect(crash.dead, "the saga was not stranded").toBe(true);
    expect((await log.list())[0]?.status).toBe("running");
    await new Promise((resolve) => setTimeout(resolve, TTL + 50));
  }

  it("recovers a saga with a store reached by another host name but the same declared id", async () => {
    const beforePool = poolOn("127.0.0.1");
    const before = postgresStore(beforePool, { id: "orders-db" });
    const beforeLog = postgresSagaLog(beforePool, {
      schema: db.schema,
      store: before,
    });
    expect(beforeLog.coCommit.storeId).toBe("orders-db");
    await strand(before, beforeLog);

    const afterPool = poolOn("localhost");
    const after = postgresStore(afterPool, { id: "orders-db" });
    const log = postgresSagaLog(afterPool, { schema: db.schema, coCommitWith: "orders-db" });
    expect(log.coCommit.storeId).toBe("orders-db");
    const recoverer = createRecoverer({
      runner: createRunner({ log }),
      sagas: [reserveSaga(after)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.claimed).toBe(1);
    expect(pass.sagas[0]?.outcome).toBe("completed");
  });

  it("names the field and both derived ids when the ids differ", async () => {
    const beforePool = poolOn("127.0.0.1");
    const before = postgresStore(beforePool);
    await strand(before, postgresSagaLog(beforePool, { schema: db.schema }));

    const afterPool = poolOn("localhost");
    const after = postgresStore(afterPool);
    const log = postgresSagaLog(afterPool, { schema: db.schema });
    const recoverer = createRecoverer({
      runner: createRunner({ log }),
      sagas: [reserveSaga(after)],
    });
    const pass = (await recoverer.recover())._unsafeUnwrap();
    expect(pass.sagas[0]?.outcome).toBe("needs_attention");
    const error = pass.sagas[0]?.error;
    expect(error?.code).toBe(ErrorCode.NeedsAttention);
    expect(error?.message).toContain(
      `step "reserve" field "store": logged "${postgresStoreId(beforePool)}", given "${postgresStoreId(afterPool)}"`,
    );
    expect(error?.message).toContain("docs/operations.md");
  });
});
