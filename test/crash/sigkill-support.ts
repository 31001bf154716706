import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { createRecoverer, createRunner, systemClock } from "../../src/index.js";
import { openPool as openMysqlPool, uniqueName } from "../adapters/mysql/mysql-test.js";
import { runProgram } from "../support/run-program.js";
import { createPostgresWorld, dropPostgresWorld } from "./postgres-world.js";
import {
  dump,
  INITIAL_TOTAL,
  judge,
  MYSQL_LOG_FILE,
  openWorld,
  SAGA_ID,
  seedWorld,
  transferSaga,
} from "./transfer-world.js";

/**
 * The SIGKILL suite's parts, shared by the Node suite (sigkill.test.ts) and the runtime matrix
 * (test/runtimes/sigkill-case.ts): a child process run by `command` (the program, then its
 * arguments; child.ts's logic), a seeded world, and the fresh process's recovery and checks.
 */
export type Path = "happy" | "compensating";

export interface ChildResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly boundaries: readonly string[];
  readonly stderr: string;
}

export async function child(
  command: readonly string[],
  dir: string,
  phase: "run" | "recover",
  crashAt: number,
): Promise<ChildResult> {
  const run = await runProgram(command, {
    env: { DIR: dir, PHASE: phase, CRASH_AT: String(crashAt) },
  });
  const boundaries =
    run.stdout.length > 0 ? (JSON.parse(run.stdout) as { boundaries: string[] }).boundaries : [];
  return { code: run.code, signal: run.signal, boundaries, stderr: run.stderr };
}

/**
 * A seeded world: a directory of SQLite files, or (`on` "postgres", for runtimes without a SQLite
 * binding) two fresh schemas on the shared Postgres, named `postgres:<schema>`.
 */
/**
 * Where a world lives: SQLite files (the saga log in main.db), the same files with the saga log in
 * a MySQL database of its own, or Postgres schemas.
 */
export type WorldKind = "sqlite" | "mysql" | "postgres";

export async function freshDir(path: Path, on: WorldKind = "sqlite"): Promise<string> {
  const dir =
    on === "postgres"
      ? await createPostgresWorld(`lockstep_crash_${process.pid}_${randomBytes(4).toString("hex")}`)
      : mkdtempSync(join(tmpdir(), "lockstep-crash-"));
  if (on === "mysql") {
    const database = uniqueName("lockstep_crash");
    const admin = openMysqlPool(undefined, { connectionLimit: 1 });
    try {
      await admin.query(`CREATE DATABASE \`${database}\``);
    } finally {
      await admin.end();
    }
    writeFileSync(join(dir, MYSQL_LOG_FILE), database);
  }
  const world = openWorld(dir);
  try {
    await seedWorld(world, path);
  } finally {
    await world.close();
  }
  return dir;
}

/** Removes a world {@link freshDir} made. */
export async function removeDir(dir: string): Promise<void> {
  if (dir.startsWith("postgres:")) {
    await dropPostgresWorld(dir.slice("postgres:".length));
    return;
  }
  const file = join(dir, MYSQL_LOG_FILE);
  if (existsSync(file)) {
    const admin = openMysqlPool(undefined, { connectionLimit: 1 });
    try {
      await admin.query(`DROP DATABASE IF EXISTS \`${readFileSync(file, "utf8").trim()}\``);
    } finally {
      await admin.end();
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh process's view: reopen the files, recover twice, check every invariant. */
export async function recoverAndCheck(
  dir: string,
  path: Path,
  label: string,
): Promise<"all" | "nothing"> {
  const world = openWorld(dir);
  try {
    const saga = transferSaga(world);
    const ahead = { now: () => Date.now() + 7_200_000, setTimer: systemClock.setTimer };
    const recoverer = createRecoverer({
      runner: createRunner({ log: world.log, clock: ahead }),
      sagas: [saga],
    });
    (await recoverer.recover())._unsafeUnwrap();
    const once = `${await dump(world)}${JSON.stringify(await world.log.load(SAGA_ID))}`;
    const second = (await recoverer.recover())._unsafeUnwrap();
    const twice = `${await dump(world)}${JSON.stringify(await world.log.load(SAGA_ID))}`;
    expect(second.claimed, `${label}: a second recovery pass found work`).toBe(0);
    expect(twice, `${label}: a second recovery pass changed the stores or the log`).toBe(once);
    const { state, total } = await judge(world);
    expect(total, `${label}: credits were not conserved`).toBe(INITIAL_TOTAL);
    if (path === "compensating") expect(state, label).toBe("nothing");
    const record = (await world.log.load(SAGA_ID))?.record;
    if (record === undefined) {
      expect(state, `${label}: no saga, yet something was written`).toBe("nothing");
    } else {
      expect(["completed", "compensated"], label).toContain(record.status);
      expect(record.status === "completed", `${label}: log and stores disagree`).toBe(
        state === "all",
      );
    }
    return state;
  } finally {
    await world.close();
  }
}

/** Runs `count` jobs, two at a time (one per core). */
export async function pool<T>(count: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}
