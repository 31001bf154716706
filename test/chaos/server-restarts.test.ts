import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRunner, sleep, systemClock } from "../../src/index.js";
import { createCluster, type PgCluster } from "../support/pg-cluster.js";
import { type ChaosWorld, createChaosTables, inputOf, openChaosWorld } from "./chaos-bank.js";
import { checkChaos, evidence, recoverAll } from "./chaos-checks.js";

/**
 * Many concurrent two-store sagas against a PostgreSQL cluster of the test's own while the server is
 * restarted in immediate mode (no checkpoint, every backend killed, crash recovery on start) every
 * couple of seconds, and some COMMITs sleep past their step's deadline. Runs that fail are left to
 * recovery; once it has nothing left to do, SQL checks every saga against its effects.
 *
 * The cluster runs with `fsync = off` (the machine does not crash, only the server: what reached the
 * OS survives) but keeps `synchronous_commit = on`, since an immediate shutdown loses commits that
 * were acknowledged before their WAL was written, which no client can survive.
 */
const CLUSTER = "lockstep_chaos";
const MIN_SAGAS = 5_000;
const MIN_RESTARTS = 10;
const RESTART_EVERY_MS = 2_000;
const IN_FLIGHT = 40;

describe("sagas while the server restarts in immediate mode", () => {
  let cluster: PgCluster | undefined;
  let world: ChaosWorld | undefined;

  beforeAll(async () => {
    cluster = await createCluster(CLUSTER, {
      fsync: "off",
      full_page_writes: "off",
      max_connections: 100,
      log_min_messages: "fatal",
    });
    const admin = new pg.Pool({ connectionString: cluster.url("postgres"), max: 1 });
    await admin.query("CREATE DATABASE bank");
    await admin.query("CREATE DATABASE shop");
    await admin.end();
    world = openChaosWorld(cluster.url("bank"), cluster.url("shop"), 10);
    await createChaosTables(world.bankPool, world.shopPool);
    await world.log.ensureSchema();
  }, 60_000);

  afterAll(async () => {
    await world?.close();
    await cluster?.drop();
  }, 60_000);

  it(`${MIN_SAGAS}+ sagas, ${MIN_RESTARTS}+ restarts: every saga ends right, no effect twice, money conserved`, async () => {
    const w = world as ChaosWorld;
    const c = cluster as PgCluster;
    const started = Date.now();
    const runner = createRunner({
      log: w.log,
      owner: "chaos-runner",
      leaseTtlMs: 5_000,
      retry: { attempts: 4, initialDelayMs: 50, maxDelayMs: 400 },
    });

    let restarts = 0;
    let driving = true;
    // New sagas wait while the server restarts (sagas in flight do not): a submission the server
    // refuses outright creates nothing and tests nothing.
    let restarting: Promise<void> | undefined;
    const restarter = (async () => {
      let due = Date.now() + RESTART_EVERY_MS;
      while (driving) {
        await sleep(systemClock, 50);
        if (!driving || Date.now() < due) continue;
        restarting = c.restartImmediate();
        await restarting;
        restarting = undefined;
        restarts++;
        due = Date.now() + RESTART_EVERY_MS;
      }
    })();

    const runs: Record<string, number> = {};
    let submitted = 0;
    let notCreated = 0;
    const worker = async () => {
      while (submitted - notCreated < MIN_SAGAS * 1.05 || restarts < MIN_RESTARTS) {
        if (restarting !== undefined) await restarting;
        const sagaId = `chaos-${submitted++}`;
        const result = await runner.run(w.saga, inputOf(sagaId), { sagaId });
        const tag = result.isOk() ? result.value.status : result.error.code;
        runs[tag] = (runs[tag] ?? 0) + 1;
        if (result.isErr() && /nothing was run/.test(result.error.message)) notCreated++;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    driving = false;
    await restarter;
    const drove = Date.now();

    const recovery = await recoverAll(w.log, w.saga);
    const verdict = await checkChaos(w.bankPool, w.shopPool);
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `chaos (server restarts): ${submitted} sagas submitted, ${verdict.sagas} in the log, ${restarts} immediate restarts; ` +
        `runs ${JSON.stringify(runs)}; recovery ${recovery.passes} passes claimed ${recovery.claimed}; ` +
        `outcomes ${JSON.stringify(verdict.outcomes)}; slow commits in ${verdict.slow}; doubled effects ${verdict.doubled}; ` +
        `money ${verdict.total}; anomalies ${verdict.anomalies.length}; ` +
        `drive ${seconds(drove - started)}, recovery and checks ${seconds(Date.now() - drove)}`,
    );
    if (verdict.anomalies.length > 0) {
      const ids = [...new Set(verdict.anomalies.map((a) => a.split(/[ :]/)[0] as string))];
      console.log(await evidence(w.log, w.bankPool, w.shopPool, ids));
    }
    expect(verdict.anomalies.slice(0, 20), "anomalies").toEqual([]);
    expect(submitted).toBeGreaterThanOrEqual(MIN_SAGAS);
    expect(restarts).toBeGreaterThanOrEqual(MIN_RESTARTS);
    // Counted in the log: a run that never created its saga (the server was down) does not count.
    expect(verdict.sagas).toBeGreaterThanOrEqual(MIN_SAGAS);
    expect(verdict.outcomes.completed ?? 0).toBeGreaterThan(0);
    expect(verdict.outcomes.compensated ?? 0).toBeGreaterThan(0);
  }, 600_000);
});
