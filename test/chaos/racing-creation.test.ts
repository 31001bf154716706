import pg from "pg";
import { afterEach, beforeEach, expect, it } from "vitest";
import { z } from "zod";
import { postgresSagaLog, postgresStore } from "../../src/adapters/postgres/index.js";
import {
  committed,
  compensated,
  createRunner,
  defineSaga,
  defineStore,
  notCommitted,
  type SagaLog,
  systemClock,
} from "../../src/index.js";
import { type CommitGate, installCommitGate, waitFor } from "../adapters/postgres/commit-gate.js";
import { openSchema, PG_URL, type TestSchema } from "../adapters/postgres/pg-test.js";

/**
 * Two processes submit one saga id at once; its first step commits together with the saga's
 * creation (co-commit). B's creation is under way, its COMMIT slow; A's creation waits on B's
 * uncommitted saga row past A's deadline, so A's outcome is unknown and A reads the log back to
 * settle it. By then B's COMMIT has landed: the log holds the saga and the first step committed at
 * attempt 1 — B's, not A's, whose transaction was rolled back. Taking that for its own, A went on
 * driving the saga under the same fencing token as B, and the pivot ran twice. Found by the chaos
 * suite's processes sharing saga ids (21 doubled pivots in 1,000 sagas, without a single kill).
 */
let db: TestSchema;
let gate: CommitGate;
const pools: pg.Pool[] = [];

beforeEach(async () => {
  db = await openSchema();
  await db.admin.query(
    `CREATE TABLE "${db.schema}".holds (id serial PRIMARY KEY, saga_id text NOT NULL)`,
  );
  gate = await installCommitGate(db.admin, `"${db.schema}"."holds"`);
});
afterEach(async () => {
  await gate.open();
  await Promise.all(pools.splice(0).map((p) => p.end()));
  await db.close();
});

function process_(name: string) {
  const pool = new pg.Pool({
    connectionString: PG_URL,
    options: `-c search_path=${db.schema}`,
    application_name: name,
  });
  pool.on("error", () => {});
  pools.push(pool);
  const bank = postgresStore(pool, { id: "bank" });
  const log = postgresSagaLog(pool, { schema: db.schema, store: bank });
  return { bank, log };
}

function sagaOn(
  bank: ReturnType<typeof process_>["bank"],
  charges: { count: number },
  beforeCharge: () => Promise<void> = async () => {},
) {
  const card = defineStore({ id: "card", handle: charges });
  return defineSaga("racing", { input: z.object({ id: z.string() }) })
    .step("hold", {
      store: bank,
      kind: "compensatable",
      output: z.object({ held: z.boolean() }),
      execute: async ({ sagaId, handle }) => {
        await handle.query("INSERT INTO holds (saga_id) VALUES ($1)", [sagaId]);
        return { held: true };
      },
      probe: async ({ sagaId, handle }) => {
        const { rows } = await handle.query("SELECT 1 FROM holds WHERE saga_id = $1", [sagaId]);
        return rows.length > 0 ? committed({ held: true }) : notCommitted();
      },
      compensate: async () => compensated(),
    })
    .step("charge", {
      store: card,
      kind: "pivot",
      output: z.object({ charged: z.boolean() }),
      execute: async () => {
        await beforeCharge();
        charges.count++;
        return { charged: true };
      },
      probe: async () => (charges.count > 0 ? committed({ charged: true }) : notCommitted()),
    })
    .build();
}

/** Both runs in the same millisecond, so nothing but the run itself tells their creations apart. */
const frozen = { now: () => 1_900_000_000_000, setTimer: systemClock.setTimer };

it.each([
  { who: "two runners", ownerA: "a", ownerB: "b", clock: undefined },
  { who: "one runner, in the same millisecond", ownerA: "same", ownerB: "same", clock: frozen },
])(
  "a run whose creation's outcome is unknown never takes another run's creation for its own ($who)",
  async ({ ownerA, ownerB, clock }) => {
    const charges = { count: 0 };
    const a = process_(`${db.schema}_a`);
    const b = process_(`${db.schema}_b`);
    await gate.close();
    // B creates the saga; its COMMIT waits on the gate. B's pivot waits until A's run has ended.
    let aEnded!: () => void;
    const aHasEnded = new Promise<void>((resolve) => {
      aEnded = resolve;
    });
    const runB = createRunner({
      log: b.log,
      owner: ownerB,
      timeoutMs: 30_000,
      ...(clock === undefined ? {} : { clock }),
    }).run(
      sagaOn(b.bank, charges, () => aHasEnded),
      { id: "s-1" },
      { sagaId: "s-1" },
    );
    await gate.blockedCommit(`${db.schema}_b`);
    // A reads the log back after its own attempt was closed; B's COMMIT lands just before.
    const landB: SagaLog = new Proxy(a.log, {
      get(target, property) {
        if (property === "load") {
          return async (sagaId: string) => {
            await gate.open();
            await waitFor("B's creation to commit", async () => {
              const { rows } = await db.admin.query(
                `SELECT 1 FROM "${db.schema}".lockstep_sagas WHERE saga_id = $1`,
                [sagaId],
              );
              return rows.length > 0 ? true : undefined;
            });
            return target.load(sagaId);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const runA = createRunner({
      log: landB,
      owner: ownerA,
      ...(clock === undefined ? {} : { clock }),
      timeoutMs: 500,
      retry: { attempts: 1 },
    }).run(sagaOn(a.bank, charges), { id: "s-1" }, { sagaId: "s-1" });
    const resultA = await runA;
    aEnded();
    const resultB = await runB;

    const { rows: holds } = await db.admin.query(
      `SELECT 1 FROM "${db.schema}".holds WHERE saga_id = 's-1'`,
    );
    expect(holds, "the saga was created twice").toHaveLength(1);
    expect(charges.count, "the pivot ran twice").toBe(1);
    expect(resultB.isOk(), resultB.isErr() ? resultB.error.message : "").toBe(true);
    expect(resultB._unsafeUnwrap().status).toBe("completed");
    // A did not create the saga: it returns the outcome B recorded, or says the saga is B's.
    expect(
      resultA.isOk() || resultA.error.code === "saga_exists",
      resultA.isErr() ? `${resultA.error.code}: ${resultA.error.message}` : "",
    ).toBe(true);
  },
);
