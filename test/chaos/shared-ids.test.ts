import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type TestDatabase } from "../adapters/postgres/pg-test.js";
import { type ChaosWorld, createChaosTables, openChaosWorld } from "./chaos-bank.js";
import { checkChaos, evidence, recoverAll } from "./chaos-checks.js";

/**
 * Several processes submit the same saga ids (each id by two of them, in the same order, so their
 * runs race) while the parent SIGKILLs one of them every few hundred finished runs and starts a
 * fresh process that submits again whatever the killed one had not seen finish. Then recovery, then
 * the same SQL checks as the restart run: no effect twice, every saga ended right, money conserved.
 */
const CHILD = fileURLToPath(new URL("./submit-child.ts", import.meta.url));
const SAGAS = 5_200;
const SLOTS = 4;
const MIN_KILLS = 20;
/** Every id is submitted twice; a kill after every this many finished runs gives MIN_KILLS + a few. */
const KILL_EVERY_RUNS = Math.floor((SAGAS * 2) / (MIN_KILLS + 4));

interface Slot {
  readonly index: number;
  /** Ids this slot still has to see finish, in submission order. */
  remaining: string[];
  child: ChildProcess | undefined;
  exited: Promise<void>;
  finished: boolean;
}

describe("processes sharing saga ids, SIGKILLed at random", () => {
  let bankDb: TestDatabase | undefined;
  let shopDb: TestDatabase | undefined;
  let world: ChaosWorld | undefined;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    bankDb = await openDatabase();
    shopDb = await openDatabase();
    world = openChaosWorld(bankDb.url, shopDb.url, 4);
    await createChaosTables(world.bankPool, world.shopPool);
    await world.log.ensureSchema();
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await world?.close();
    await shopDb?.close();
    await bankDb?.close();
  });

  it(`${SAGAS} sagas, each submitted by two processes, ${MIN_KILLS}+ SIGKILLs: no effect twice`, async () => {
    const w = world as ChaosWorld;
    const started = Date.now();
    const ids = Array.from({ length: SAGAS }, (_, i) => `shared-${i}`);
    const slots: Slot[] = Array.from({ length: SLOTS }, (_, index) => ({
      index,
      // Slot j submits the ids ≡ j and ≡ j+1 (mod SLOTS): each id by two slots, in the same order.
      remaining: ids.filter((_, i) => i % SLOTS === index || i % SLOTS === (index + 1) % SLOTS),
      child: undefined,
      exited: Promise.resolve(),
      finished: false,
    }));
    const outcomes: Record<string, number> = {};
    let runsDone = 0;
    let kills = 0;
    let spawned = 0;
    let sinceKill = 0;
    const errors: string[] = [];

    const start = (slot: Slot) => {
      const child = spawn(process.execPath, ["--import", "tsx", CHILD], {
        env: {
          ...process.env,
          BANK_URL: (bankDb as TestDatabase).url,
          SHOP_URL: (shopDb as TestDatabase).url,
          OWNER: `slot-${slot.index}-${spawned++}`,
        },
        stdio: ["pipe", "pipe", "pipe"],
      });
      children.add(child);
      slot.child = child;
      let stderr = "";
      child.stderr?.on("data", (d) => {
        stderr += String(d);
      });
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        if (line === "finished") {
          slot.finished = true;
          return;
        }
        const [word, sagaId, outcome] = line.split(" ");
        if (word !== "done" || sagaId === undefined || outcome === undefined) return;
        const at = slot.remaining.indexOf(sagaId);
        if (at >= 0) slot.remaining.splice(at, 1);
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        runsDone++;
        sinceKill++;
      });
      child.stdin?.end(`${JSON.stringify(slot.remaining)}\n`);
      slot.exited = new Promise((resolve) => {
        child.on("exit", (code, signal) => {
          children.delete(child);
          if (signal !== "SIGKILL" && code !== 0) {
            errors.push(`slot ${slot.index} exited ${code}: ${stderr.slice(-2_000)}`);
          }
          resolve();
        });
      });
    };

    for (const slot of slots) start(slot);
    while (slots.some((s) => !s.finished) && errors.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (sinceKill < KILL_EVERY_RUNS) continue;
      const live = slots.filter((s) => !s.finished && s.remaining.length > 0);
      const victim = live[Math.floor(Math.random() * live.length)];
      if (victim === undefined) continue;
      sinceKill = 0;
      victim.child?.kill("SIGKILL");
      await victim.exited;
      kills++;
      // Whatever it was running is resubmitted by a fresh process (and raced by the partner slot).
      if (!victim.finished) start(victim);
    }
    await Promise.all(slots.map((s) => s.exited));
    expect(errors, "a submitting process failed").toEqual([]);
    const drove = Date.now();

    const recovery = await recoverAll(w.log, w.saga);
    const verdict = await checkChaos(w.bankPool, w.shopPool);
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(
      `chaos (shared ids): ${SAGAS} saga ids, ${runsDone} runs seen to finish by ${SLOTS} slots, ${spawned} processes, ${kills} SIGKILLs; ` +
        `runs ${JSON.stringify(outcomes)}; recovery ${recovery.passes} passes claimed ${recovery.claimed}; ` +
        `${verdict.sagas} sagas in the log, outcomes ${JSON.stringify(verdict.outcomes)}; slow commits in ${verdict.slow}; doubled effects ${verdict.doubled}; ` +
        `money ${verdict.total}; anomalies ${verdict.anomalies.length}; ` +
        `drive ${seconds(drove - started)}, recovery and checks ${seconds(Date.now() - drove)}`,
    );
    if (verdict.anomalies.length > 0) {
      const ids = [...new Set(verdict.anomalies.map((a) => a.split(/[ :]/)[0] as string))];
      console.log(await evidence(w.log, w.bankPool, w.shopPool, ids));
    }
    expect(verdict.anomalies.slice(0, 20), "anomalies").toEqual([]);
    expect(verdict.doubled).toBe(0);
    expect(kills).toBeGreaterThanOrEqual(MIN_KILLS);
    // Every id was seen to finish by both of its slots, so every saga exists.
    expect(verdict.sagas).toBe(SAGAS);
    expect(runsDone).toBeGreaterThanOrEqual(SAGAS * 2);
  }, 600_000);
});
