import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { drizzle } from "drizzle-orm/node-postgres";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { drizzleSagaLog, drizzleStore } from "../../../src/adapters/drizzle/index.js";
import { createMemoryStore } from "../../../src/adapters/memory/index.js";
import { mysqlSagaLog, mysqlStore } from "../../../src/adapters/mysql/index.js";
import {
  openSqlite,
  type SqliteDatabase,
  sqliteSagaLog,
  sqliteStore,
} from "../../../src/adapters/sqlite/index.js";
import {
  createRecoverer,
  createRunner,
  ErrorCode,
  MemorySagaLog,
  type SagaLog,
  StoreError,
} from "../../../src/index.js";
import {
  type ContributionPorts,
  checkContributionInvariants,
  createContributions,
  createContributionTables,
  memoryContributionStore,
  memoryHandoffStore,
  mysqlDialect,
  sqlContributionStore,
  sqlHandoffStore,
  sqliteDialect,
} from "../../../src/recipes/contribution/index.js";
import { SimulatedCrash } from "../../../src/testing/crash-switch.js";
import { VirtualClock } from "../../../src/testing/virtual-clock.js";
import { openDatabase } from "../../adapters/mysql/mysql-test.js";
import { openSchema } from "../../adapters/postgres/pg-test.js";
import { type IoTracker, trackedPgClient, trackMysqlPool } from "../bounty/real-io.js";
import { drizzlePgDialect } from "../drizzle-sql-dialect.js";

const CONTENT = {
  author: "ada",
  kind: "patch",
  body: { diff: "+fix" },
  routes: ["reviewer", "tester", "docs"],
};

interface World {
  readonly raw: ContributionPorts;
  readonly ports: ContributionPorts;
  readonly log: SagaLog;
  /** The log as the (mortal) process sees it: once it has crashed, every call fails. */
  readonly liveLog: SagaLog;
  readonly clock: VirtualClock;
  /** Fails the next `n` handoff writes before they land. */
  failHandoffs(n: number, when?: "pre" | "post"): void;
  /** Dies at boundary `n` (1-based) of the next run. */
  crashAt: number | undefined;
  readonly boundaries: string[];
  close(): Promise<void>;
}

type Setup = () => Promise<World>;

function world(
  raw: ContributionPorts,
  log: SagaLog,
  close: () => Promise<void> = async () => {},
  // As the bounty worlds' clocks (test/recipes/bounty/real-io.ts IDLE_TURNS): a SQLite write gate
  // handing over on the next turn is not idleness.
  clock = new VirtualClock(undefined, { idleTurns: 25 }),
): World {
  let failing = 0;
  let failWhen: "pre" | "post" = "pre";
  const w: World = {
    raw,
    log,
    clock,
    crashAt: undefined,
    boundaries: [],
    failHandoffs(n, when = "pre") {
      failing = n;
      failWhen = when;
    },
    close,
    ports: undefined as never,
    liveLog: undefined as never,
  };
  const boundary = (name: string) => {
    if (w.crashAt !== undefined && w.boundaries.length >= w.crashAt) throw new SimulatedCrash(name);
    w.boundaries.push(name);
    if (w.boundaries.length === w.crashAt) throw new SimulatedCrash(name);
  };
  const hook = <P extends object>(name: string, port: P): P =>
    new Proxy(port, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return async (...args: unknown[]) => {
          boundary(`before ${name}.${property}`);
          if (name === "handoffs" && property === "put" && failing > 0 && failWhen === "pre") {
            failing--;
            throw new StoreError("transient", "handoff store unavailable");
          }
          const result = await value.apply(target, args);
          boundary(`after ${name}.${property}`);
          if (name === "handoffs" && property === "put" && failing > 0 && failWhen === "post") {
            failing--;
            throw new Error("handoff response lost");
          }
          return result;
        };
      },
    });
  (w as { liveLog: SagaLog }).liveLog = new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return async (...args: unknown[]) => {
        if (w.crashAt !== undefined && w.boundaries.length >= w.crashAt)
          throw new SimulatedCrash(`log.${property}`);
        return value.apply(target, args);
      };
    },
  });
  (w as { ports: ContributionPorts }).ports = {
    contributions: hook("contributions", raw.contributions),
    handoffs: hook("handoffs", raw.handoffs),
  };
  return w;
}

const memory: Setup = async () => {
  const contributions = createMemoryStore({ id: "memory:contributions", tier: "transactional" });
  const handoffs = createMemoryStore({ id: "memory:handoffs", tier: "plain" });
  return world(
    {
      contributions: memoryContributionStore(contributions),
      handoffs: memoryHandoffStore(handoffs),
    },
    new MemorySagaLog(),
  );
};

async function sqlite(files: "one" | "two"): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), "lockstep-contrib-"));
  const main = openSqlite(join(dir, "main.db"));
  const other: SqliteDatabase = files === "one" ? main : openSqlite(join(dir, "handoffs.db"));
  const mainStore = sqliteStore(main);
  const otherStore = files === "one" ? mainStore : sqliteStore(other);
  await createContributionTables(sqliteDialect, mainStore.handle);
  if (files === "two") await createContributionTables(sqliteDialect, otherStore.handle);
  return world(
    {
      contributions: sqlContributionStore(mainStore, sqliteDialect),
      handoffs: sqlHandoffStore(otherStore, sqliteDialect),
    },
    sqliteSagaLog(main),
    async () => {
      main.close();
      if (files === "two") other.close();
      rmSync(dir, { recursive: true, force: true });
    },
  );
}

/** Contributions and handoffs in one Postgres schema, through one `drizzleStore`, co-committed. */
async function drizzleOnPostgres(): Promise<World> {
  // The virtual clock must not move while Postgres answers: its queries count as calls in flight.
  const clock = new VirtualClock();
  const io = {
    begin: () => clock.io.begin("postgres"),
    watch: <T>(promise: Promise<T>) => {
      const end = clock.io.begin("postgres");
      promise.then(end, end);
      return promise;
    },
  } as unknown as IoTracker;
  const db = await openSchema({ Client: trackedPgClient(io) });
  const orm = drizzle(db.pool);
  const store = drizzleStore(orm, { id: "contributions-db" });
  await createContributionTables(drizzlePgDialect, store.handle);
  return world(
    {
      contributions: sqlContributionStore(store, drizzlePgDialect),
      handoffs: sqlHandoffStore(store, drizzlePgDialect),
    },
    drizzleSagaLog(orm, { schema: db.schema, store }),
    () => db.close(),
    clock,
  );
}

/** Contributions and handoffs in one MySQL/MariaDB database, through one `mysqlStore`, co-committed. */
async function mysqlOneDatabase(): Promise<World> {
  // The virtual clock must not move while MySQL answers: its commands count as calls in flight.
  const clock = new VirtualClock();
  const io = {
    begin: () => clock.io.begin("mysql"),
  } as unknown as IoTracker;
  const db = await openDatabase();
  trackMysqlPool(db.pool, io);
  const store = mysqlStore(db.pool, { id: "contributions-db" });
  await createContributionTables(mysqlDialect, store.handle);
  return world(
    {
      contributions: sqlContributionStore(store, mysqlDialect),
      handoffs: sqlHandoffStore(store, mysqlDialect),
    },
    mysqlSagaLog(db.pool, { store }),
    () => db.close(),
    clock,
  );
}

const FLAVOURS: readonly { name: string; strategy: "transaction" | "saga"; setup: Setup }[] = [
  { name: "memory, separate stores", strategy: "saga", setup: memory },
  { name: "sqlite, one database", strategy: "transaction", setup: () => sqlite("one") },
  { name: "sqlite, two databases", strategy: "saga", setup: () => sqlite("two") },
  { name: "drizzle on postgres, one database", strategy: "transaction", setup: drizzleOnPostgres },
  { name: "mysql, one database", strategy: "transaction", setup: mysqlOneDatabase },
];

for (const flavour of FLAVOURS) {
  describe(`contribute on ${flavour.name}`, () => {
    let w: World;
    beforeEach(async () => {
      w = await flavour.setup();
    });
    afterEach(async () => {
      await w.close();
    });
    const contributions = () =>
      createContributions({
        ports: w.ports,
        runner: createRunner({ log: w.log, clock: w.clock, leaseTtlMs: 1_000, random: () => 0.5 }),
        clock: w.clock,
      });
    const handoffRoles = async () =>
      (await w.raw.handoffs.list(w.raw.handoffs.store.handle)).map((h) => h.toRole).sort();
    const clean = async () => expect(await checkContributionInvariants(w.raw)).toEqual([]);

    it(`writes the contribution and one handoff per role as a ${flavour.strategy}`, async () => {
      const c = contributions();
      expect(c.strategy).toBe(flavour.strategy);
      const result = (await w.clock.run(c.contribute(CONTENT)))._unsafeUnwrap();
      expect(result).toMatchObject({ strategy: flavour.strategy, handoffs: "complete" });
      expect(result.handoffIds).toHaveLength(3);
      expect(await handoffRoles()).toEqual(["docs", "reviewer", "tester"]);
      await clean();
    });

    if (flavour.strategy === "transaction") {
      it("a failure in any handoff insert leaves nothing", async () => {
        w.failHandoffs(1);
        // The second handoff fails: the contribution and the first handoff roll back with it.
        let calls = 0;
        const original = w.ports.handoffs.put;
        (w.ports.handoffs as { put: typeof original }).put = async (...args) => {
          calls++;
          if (calls === 2) throw new StoreError("not_committed", "constraint violated");
          return original(...args);
        };
        w.failHandoffs(0);
        const error = (await w.clock.run(contributions().contribute(CONTENT)))._unsafeUnwrapErr();
        expect(error.code).toBe(ErrorCode.WriteFailed);
        expect(await w.raw.contributions.list(w.raw.contributions.store.handle)).toEqual([]);
        expect(await handoffRoles()).toEqual([]);
      });
    } else {
      it("handoff writes failing: the contribution is committed, the handoffs pending, and recovery writes exactly the missing ones", async () => {
        // The first handoff lands; every attempt at the second fails until the step gives up.
        let puts = 0;
        const original = w.ports.handoffs.put;
        (w.ports.handoffs as { put: typeof original }).put = async (...args) => {
          puts++;
          if (puts >= 2) throw new StoreError("transient", "handoff store unavailable");
          return original(...args);
        };
        const result = (await w.clock.run(contributions().contribute(CONTENT)))._unsafeUnwrap();
        expect(result).toMatchObject({ strategy: "saga", handoffs: "pending" });
        expect(await w.raw.contributions.list(w.raw.contributions.store.handle)).toHaveLength(1);
        expect(await handoffRoles()).toEqual(["docs"]);
        (w.ports.handoffs as { put: typeof original }).put = original;
        w.clock.advance(2_000);
        const recoverer = createRecoverer({
          runner: createRunner({ log: w.log, clock: w.clock }),
          sagas: [contributions().saga],
        });
        const pass = (await w.clock.run(recoverer.recover()))._unsafeUnwrap();
        expect(pass.counts.completed).toBe(1);
        expect(await handoffRoles()).toEqual(["docs", "reviewer", "tester"]);
        await clean();
      });

      it("a handoff write whose response is lost is not duplicated", async () => {
        w.failHandoffs(1, "post");
        const result = (await w.clock.run(contributions().contribute(CONTENT)))._unsafeUnwrap();
        expect(result.handoffs).toBe("complete");
        expect(await handoffRoles()).toEqual(["docs", "reviewer", "tester"]);
        await clean();
      });
    }

    it("a side effect after the durable commit throws: the contribution is still reported, and a retry creates nothing new", async () => {
      const key = "client-request-7";
      const first = (
        await w.clock.run(
          contributions().contribute(CONTENT, {
            idempotencyKey: key,
            onCommitted: () => {
              throw new Error("webhook down");
            },
          }),
        )
      )._unsafeUnwrap();
      expect((first.sideEffectError as Error).message).toBe("webhook down");
      const before = {
        contributions: await w.raw.contributions.list(w.raw.contributions.store.handle),
        roles: await handoffRoles(),
      };
      const again = (
        await w.clock.run(contributions().contribute(CONTENT, { idempotencyKey: key }))
      )._unsafeUnwrap();
      expect(again.cid).toBe(first.cid);
      expect(again.sideEffectError).toBeUndefined();
      expect(await w.raw.contributions.list(w.raw.contributions.store.handle)).toEqual(
        before.contributions,
      );
      expect(await handoffRoles()).toEqual(before.roles);
      await clean();
    });

    it("bad input is a typed error naming the field, and nothing is written", async () => {
      const error = (
        await w.clock.run(contributions().contribute({ ...CONTENT, routes: ["ok", ""] }))
      )._unsafeUnwrapErr();
      expect(error.code).toBe(ErrorCode.InvalidInput);
      expect(error.message).toContain("`routes.1`");
      expect(await w.raw.contributions.list(w.raw.contributions.store.handle)).toEqual([]);
    });

    it("a crash at every boundary, then recovery and a resubmission, ends with exactly one handoff per role", async () => {
      const dry = await flavour.setup();
      await dry.clock.run(
        createContributions({
          ports: dry.ports,
          runner: createRunner({ log: dry.log, clock: dry.clock }),
          clock: dry.clock,
        }).contribute(CONTENT, { idempotencyKey: "k" }),
      );
      const points = dry.boundaries.length;
      await dry.close();
      expect(points).toBeGreaterThanOrEqual(flavour.strategy === "transaction" ? 8 : 8);
      for (let point = 1; point <= points; point++) {
        const x = await flavour.setup();
        try {
          x.crashAt = point;
          const c = () =>
            createContributions({
              ports: x.ports,
              runner: createRunner({ log: x.liveLog, clock: x.clock, leaseTtlMs: 1_000 }),
              clock: x.clock,
            });
          await x.clock.run(c().contribute(CONTENT, { idempotencyKey: "k" }));
          expect(x.boundaries.length, `crash point ${point} was not reached`).toBe(point);
          x.crashAt = undefined;
          x.clock.advance(2_000);
          await x.clock.run(
            createRecoverer({
              runner: createRunner({ log: x.log, clock: x.clock }),
              sagas: [c().saga],
            }).recover(),
          );
          const retried = await x.clock.run(c().contribute(CONTENT, { idempotencyKey: "k" }));
          if (retried.isErr())
            throw new Error(
              `crash point ${point} (${x.boundaries.at(-1)}): ${retried.error.code}: ${retried.error.message}`,
            );
          expect(await checkContributionInvariants(x.raw), `crash point ${point}`).toEqual([]);
          expect(
            (await x.raw.handoffs.list(x.raw.handoffs.store.handle)).length,
            `crash point ${point}`,
          ).toBe(3);
        } finally {
          await x.close();
        }
      }
      console.log(`contribute on ${flavour.name}: ${points} crash points explored`);
    });
  });
}
