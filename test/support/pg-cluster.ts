import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";

const run = promisify(execFile);

/** The PostgreSQL major version installed (Debian keeps one directory per version there). */
const VERSION = (() => {
  try {
    const versions = readdirSync("/etc/postgresql").filter((v) => /^\d+$/.test(v));
    return versions.sort((a, b) => Number(b) - Number(a))[0] ?? "15";
  } catch {
    return "15";
  }
})();
const BIN = `/usr/lib/postgresql/${VERSION}/bin`;

/**
 * A PostgreSQL cluster of a test's own, made with Debian's cluster tools: created on a free port,
 * restarted in immediate mode as often as the test likes, and dropped at the end. The shared server
 * on 5432 is never touched.
 */
export interface PgCluster {
  readonly name: string;
  readonly port: number;
  /** A connection URL for `database` on this cluster (user postgres, trust on 127.0.0.1). */
  url(database: string): string;
  /** Stops the server in immediate mode (no checkpoint, like a crash) and starts it again. */
  restartImmediate(): Promise<void>;
  /** Stops the server and removes the cluster with its data. Safe to call twice. */
  drop(): Promise<void>;
}

async function exists(name: string): Promise<boolean> {
  const { stdout } = await run("pg_lsclusters", ["--no-header"]);
  return stdout.split("\n").some((line) => line.trim().split(/\s+/)[1] === name);
}

/**
 * Creates and starts cluster `name`, first dropping a cluster of that name a crashed earlier run
 * left behind. `settings` go into the cluster's own postgresql.conf (its pg_hba.conf already trusts
 * local and 127.0.0.1 connections: `initdb --auth=trust`).
 */
export async function createCluster(
  name: string,
  settings: Readonly<Record<string, string | number>>,
): Promise<PgCluster> {
  if (await exists(name)) await run("pg_dropcluster", ["--stop", VERSION, name]);
  const port = await freePort();
  const options = Object.entries(settings).flatMap(([key, value]) => ["-o", `${key}=${value}`]);
  try {
    await run("pg_createcluster", [
      VERSION,
      name,
      "-p",
      String(port),
      ...options,
      "--",
      "--auth=trust",
    ]);
    await run("pg_ctlcluster", ["--skip-systemctl-redirect", VERSION, name, "start"]);
  } catch (error) {
    throw new Error(
      `A PostgreSQL ${VERSION} cluster of the test's own could not be created (pg_createcluster as root is required): ${(error as Error).message}`,
      { cause: error },
    );
  }
  const dataDir = `/var/lib/postgresql/${VERSION}/${name}`;
  const logFile = `/var/log/postgresql/postgresql-${VERSION}-${name}.log`;
  let dropped = false;
  return {
    name,
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    restartImmediate: async () => {
      // pg_ctl directly: it reuses the options the server was started with and returns as soon as
      // the server accepts connections again (pg_ctlcluster polls once a second).
      await run("runuser", [
        "-u",
        "postgres",
        "--",
        `${BIN}/pg_ctl`,
        "-D",
        dataDir,
        "-l",
        logFile,
        "-m",
        "immediate",
        "-w",
        "restart",
      ]);
    },
    drop: async () => {
      if (dropped) return;
      dropped = true;
      if (await exists(name)) await run("pg_dropcluster", ["--stop", VERSION, name]);
    },
  };
}
