import pg from "pg";
import { z } from "zod";
import {
  type PostgresSagaLog,
  type PostgresStore,
  postgresSagaLog,
  postgresStore,
} from "../../src/adapters/postgres/index.js";
import {
  committed,
  compensated,
  defineSaga,
  guardFailed,
  notCommitted,
  StoreError,
} from "../../src/index.js";

/**
 * The chaos suites' world: two Postgres databases. `bank` holds the accounts and the holds on them,
 * and the saga log, so the bank's steps commit together with their log records (co-commit);
 * `shop` holds orders and notices, written by ordinary steps that a probe settles.
 *
 * Every effect a step has is a row of its own with the saga's id and no unique key, so an effect
 * applied twice is two rows, visible to SQL. Some inserts carry `slow_ms`: a deferred constraint
 * trigger sleeps that long inside COMMIT, so the COMMIT outlives the step's deadline and lockstep has
 * to close the attempt (terminate the backend and wait until it is gone) before it may trust a probe.
 */
export const ACCOUNTS = 200;
/** Captured money goes to one of several merchants, so captures do not queue on one row lock. */
const MERCHANTS = 16;
export const OPENING_BALANCE = 1_000_000;
export const INITIAL_TOTAL = ACCOUNTS * OPENING_BALANCE;

/** How long one step may take; the slow commits sleep longer than this inside COMMIT. */
export const STEP_TIMEOUT_MS = 400;
export const SLOW_COMMIT_MS = 700;
export const NEAR_DEADLINE_MS = 370;

export const LOG_SCHEMA = "lockstep";

const SLOW_TRIGGER = (table: string) => `
CREATE FUNCTION ${table}_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Every other attempt, so a retry can land: some attempts are killed, some land late.
  IF NEW.slow_ms > 0 AND random() < 0.5 THEN PERFORM pg_sleep(NEW.slow_ms / 1000.0); END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ${table}_slow_commit AFTER INSERT ON ${table}
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${table}_slow_commit();`;

/** Which backend wrote a row, and when: evidence for an anomaly's report. */
const WHO =
  "pid int NOT NULL DEFAULT pg_backend_pid(), at timestamptz NOT NULL DEFAULT clock_timestamp()";

/** Creates both databases' tables and the opening balances; `admin` pools connect to each. */
export async function createChaosTables(bank: pg.Pool, shop: pg.Pool): Promise<void> {
  await bank.query(`
    CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
    CREATE TABLE holds (
      id bigserial PRIMARY KEY, saga_id text NOT NULL, account text NOT NULL,
      amount bigint NOT NULL, status text NOT NULL, slow_ms int NOT NULL,
      ${WHO});
    CREATE INDEX holds_saga ON holds (saga_id);
    ${SLOW_TRIGGER("holds")}
    INSERT INTO accounts (id, balance) SELECT 'merchant-' || i, 0 FROM generate_series(1, ${MERCHANTS}) AS i;
    INSERT INTO accounts (id, balance)
      SELECT 'acct-' || i, ${OPENING_BALANCE} FROM generate_series(1, ${ACCOUNTS}) AS i;`);
  await shop.query(`
    CREATE TABLE orders (
      id bigserial PRIMARY KEY, saga_id text NOT NULL, amount bigint NOT NULL, slow_ms int NOT NULL,
      ${WHO});
    CREATE INDEX orders_saga ON orders (saga_id);
    CREATE TABLE notices (id bigserial PRIMARY KEY, saga_id text NOT NULL, ${WHO});
    CREATE INDEX notices_saga ON notices (saga_id);
    ${SLOW_TRIGGER("orders")}`);
}

export const transferInput = z.object({
  account: z.string(),
  merchant: z.string(),
  amount: z.number().int().positive(),
  /** The shop refuses the order: the saga compensates its hold. */
  decline: z.boolean(),
  /** Milliseconds the hold's and the order's COMMIT sleep (every other attempt); 0 for most. */
  slowMs: z.number().int().min(0),
});
export type TransferInput = z.infer<typeof transferInput>;

/** A saga's input, derived from its id alone, so every resubmission of an id sends the same one. */
export function inputOf(sagaId: string): TransferInput {
  let h = 2166136261;
  for (const c of sagaId) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return {
    account: `acct-${(h % ACCOUNTS) + 1}`,
    merchant: `merchant-${((h >>> 4) % MERCHANTS) + 1}`,
    amount: 1 + ((h >>> 8) % 50),
    decline: (h >>> 16) % 10 === 0,
    // One saga in 25 commits past its deadline, one in 25 just before it (racing the abort).
    slowMs: [SLOW_COMMIT_MS, NEAR_DEADLINE_MS][(h >>> 20) % 25] ?? 0,
  };
}

export interface ChaosWorld {
  readonly bankPool: pg.Pool;
  readonly shopPool: pg.Pool;
  readonly bank: PostgresStore;
  readonly shop: PostgresStore;
  readonly log: PostgresSagaLog;
  readonly saga: ReturnType<typeof transferSaga>;
  close(): Promise<void>;
}

/** Opens pools, stores, the log (co-committing with `bank`) and the saga. */
export function openChaosWorld(bankUrl: string, shopUrl: string, max: number): ChaosWorld {
  const pool = (url: string, name: string) => {
    const p = new pg.Pool({ connectionString: url, max, application_name: name });
    // The server is restarted and backends terminated on purpose: idle clients report it here.
    p.on("error", () => {});
    return p;
  };
  const bankPool = pool(bankUrl, "chaos-bank");
  const shopPool = pool(shopUrl, "chaos-shop");
  const bank = postgresStore(bankPool, { id: "bank" });
  const shop = postgresStore(shopPool, { id: "shop" });
  const log = postgresSagaLog(bankPool, { schema: LOG_SCHEMA, store: bank });
  return {
    bankPool,
    shopPool,
    bank,
    shop,
    log,
    saga: transferSaga(bank, shop),
    close: async () => {
      await Promise.allSettled([bankPool.end(), shopPool.end()]);
    },
  };
}

/**
 * hold (compensatable, bank, co-committed with the saga's creation) → order (pivot, shop, probed;
 * declined for some inputs) → capture (retriable, bank, co-committed) → notify (retriable, shop,
 * probed). Only capture is idempotent by its own guard; every other write is a plain insert that
 * lockstep must never apply twice.
 */
export function transferSaga(bank: PostgresStore, shop: PostgresStore) {
  return defineSaga("chaos-transfer", { input: transferInput })
    .step("hold", {
      store: bank,
      kind: "compensatable",
      timeoutMs: STEP_TIMEOUT_MS,
      output: z.object({ held: z.literal(true) }),
      execute: async ({ input, sagaId, handle }) => {
        const debit = await handle.query(
          "UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1",
          [input.amount, input.account],
        );
        if (debit.rowCount === 0) {
          throw new StoreError("not_committed", `${input.account} cannot cover ${input.amount}`);
        }
        await handle.query(
          "INSERT INTO holds (saga_id, account, amount, status, slow_ms) VALUES ($1, $2, $3, 'held', $4)",
          [sagaId, input.account, input.amount, input.slowMs],
        );
        return { held: true as const };
      },
      probe: async ({ sagaId, handle }) => {
        const { rows } = await handle.query("SELECT 1 FROM holds WHERE saga_id = $1", [sagaId]);
        return rows.length > 0 ? committed({ held: true as const }) : notCommitted();
      },
      compensate: async ({ sagaId, handle }) => {
        // Guarded and idempotent in one statement: only a hold still held is released and refunded.
        const { rows } = await handle.query<{ status: string }>(
          `WITH released AS (
             UPDATE holds SET status = 'released' WHERE saga_id = $1 AND status = 'held'
             RETURNING account, amount),
           refunded AS (
             UPDATE accounts a SET balance = a.balance + r.amount FROM released r
             WHERE a.id = r.account RETURNING 1)
           SELECT status FROM holds WHERE saga_id = $1 AND NOT EXISTS (SELECT 1 FROM refunded)`,
          [sagaId],
        );
        if (rows.some((r) => r.status === "captured")) return guardFailed("the hold was captured");
        return compensated();
      },
    })
    .step("order", {
      store: shop,
      kind: "pivot",
      timeoutMs: STEP_TIMEOUT_MS,
      retry: { attempts: 3, initialDelayMs: 20 },
      output: z.object({ ordered: z.literal(true) }),
      execute: ({ input, sagaId, signal, deadline }) => {
        if (input.decline) throw new StoreError("not_committed", "the shop declined the order");
        return shop.transaction(
          async (tx) => {
            await tx.query("INSERT INTO orders (saga_id, amount, slow_ms) VALUES ($1, $2, $3)", [
              sagaId,
              input.amount,
              input.slowMs,
            ]);
            return { ordered: true as const };
          },
          { signal, deadline },
        );
      },
      probe: async ({ sagaId, handle }) => {
        const { rows } = await handle.query("SELECT 1 FROM orders WHERE saga_id = $1", [sagaId]);
        return rows.length > 0 ? committed({ ordered: true as const }) : notCommitted();
      },
    })
    .step("capture", {
      store: bank,
      kind: "retriable",
      timeoutMs: STEP_TIMEOUT_MS,
      output: z.object({ captured: z.literal(true) }),
      execute: async ({ input, sagaId, handle }) => {
        await handle.query(
          `WITH moved AS (
             UPDATE holds SET status = 'captured' WHERE saga_id = $1 AND status = 'held'
             RETURNING amount)
           UPDATE accounts SET balance = balance + (SELECT amount FROM moved)
           WHERE id = $2 AND EXISTS (SELECT 1 FROM moved)`,
          [sagaId, input.merchant],
        );
        return { captured: true as const };
      },
    })
    .step("notify", {
      store: shop,
      kind: "retriable",
      timeoutMs: STEP_TIMEOUT_MS,
      output: z.object({ notified: z.literal(true) }),
      execute: async ({ sagaId, handle }) => {
        await handle.query("INSERT INTO notices (saga_id) VALUES ($1)", [sagaId]);
        return { notified: true as const };
      },
      probe: async ({ sagaId, handle }) => {
        const { rows } = await handle.query("SELECT 1 FROM notices WHERE saga_id = $1", [sagaId]);
        return rows.length > 0 ? committed({ notified: true as const }) : notCommitted();
      },
    })
    .build();
}
