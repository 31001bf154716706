/**
 * A swamp command-line program, bundled for Deno by swamp.test.ts: `put <id> <json>`, `remove <id>`
 * or `sync`, with its configuration as the last argument (JSON: cacheDir, baseUrl, pgUrl, schema,
 * clockAheadMs). The log is the Postgres log (lockstep/postgres). It prints its result as JSON; a
 * runtime requirement it cannot meet (a Deno permission) is printed as one line, exit code 2.
 */
import process from "node:process";
import { LockstepRuntimeError, systemClock } from "lockstep";
import { httpDocumentStore } from "lockstep/http";
import { postgresSagaLog } from "lockstep/postgres";
import pg from "pg";
import { openSwamp } from "../../examples/swamp/swamp.js";

interface Config {
  readonly cacheDir: string;
  readonly baseUrl: string;
  readonly pgUrl: string;
  readonly schema: string;
  /** The clock of a process started after every lease of the killed one lapsed. */
  readonly clockAheadMs?: number;
}

const args = process.argv.slice(2);
const config = JSON.parse(args[args.length - 1] as string) as Config;
const [command, id, body] = args;

async function main(): Promise<unknown> {
  const pool = new pg.Pool({ connectionString: config.pgUrl, max: 2 });
  pool.on("error", () => {});
  try {
    const log = postgresSagaLog(pool, { schema: config.schema });
    // The object service implements lockstep's fencing protocol.
    const remote = httpDocumentStore({ baseUrl: config.baseUrl, fencing: true });
    const ahead = config.clockAheadMs ?? 0;
    const swamp = openSwamp({
      cacheDir: config.cacheDir,
      remote,
      log,
      clock: { now: () => Date.now() + ahead, setTimer: systemClock.setTimer },
    });
    const outcome = (r: Awaited<ReturnType<typeof swamp.remove>>) =>
      r.isOk() ? { ok: true } : { ok: false, error: r.error.message };
    if (command === "put")
      return outcome(await swamp.put(id as string, JSON.parse(body as string)));
    if (command === "remove") return outcome(await swamp.remove(id as string));
    if (command === "sync") return await swamp.sync();
    throw new Error(`Unknown command ${command}.`);
  } finally {
    await pool.end();
  }
}

try {
  process.stdout.write(`${JSON.stringify(await main())}\n`);
} catch (error) {
  if (!LockstepRuntimeError.is(error)) throw error;
  process.stderr.write(`swamp: ${error.message}\n`);
  process.exitCode = 2;
}
