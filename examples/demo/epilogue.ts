/**
 * The end of the demo: what an operator would look at next, with the `lockstep` command run on the
 * demo's files. One saga's story (`sagas show` of a saga recovery took over, or one that was undone),
 * then one more bounty whose process dies right after its credits were reserved, left in the log for
 * `doctor` to explain and `recover` to finish.
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createRunner, type SagaLog, type SagaRecord } from "lockstep";
import { bountySagas } from "lockstep/bounty";
// The CLI's entry point, run in this process so the demo needs no build to show it.
import { main as lockstep } from "../../src/cli/main.js";
import { processOutput } from "../../src/cli/output.js";
import { DEMO_DIR, type Marketplace } from "./world.js";

const CONFIG = relative(
  process.cwd(),
  fileURLToPath(new URL("./lockstep.config.ts", import.meta.url)),
);
const CRASHED_LEASE_MS = 200;

/** Runs one `lockstep` command here, printed first as a reader would type it. */
async function run(args: readonly string[], env: string): Promise<number> {
  console.log(`\n$ ${env}npx lockstep ${args.join(" ")}`);
  return lockstep(args, processOutput);
}

/**
 * The saga most worth reading: one that recovery took over (its fencing token moved past 1) and
 * finished, else one that was undone, else one that needs a person, else the first.
 */
export function interestingSaga(records: readonly SagaRecord[]): SagaRecord | undefined {
  const ended = (r: SagaRecord) => r.status === "completed" || r.status === "compensated";
  return (
    records.find((r) => r.fencingToken > 1 && ended(r)) ??
    records.find((r) => r.status === "compensated") ??
    records.find((r) => r.status === "needs_attention") ??
    records[0]
  );
}

/**
 * A view of `log` for a process that dies once its first step ran: the saga is created with the
 * step's intent, and every write after that fails (in a transaction of its own or inside a step's),
 * so the step's outcome is never logged and the lease is never released.
 */
function dyingLog(log: SagaLog): SagaLog {
  const died = (what: string) => async () => {
    throw new Error(`the process died before its ${what} (simulated)`);
  };
  const dies = new Set(["write", "renewLease", "releaseLease", "acquireLease", "quarantine"]);
  return new Proxy(log, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof property === "string" && dies.has(property)) return died(`log.${property}`);
      if (property === "coCommit" && target.coCommit !== undefined) {
        return { ...target.coCommit, create: died("log record"), write: died("log record") };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Starts one more bounty in a process that dies after `reserve` landed; returns its saga id. */
async function crashAfterReserve(market: Marketplace, agents: readonly string[]): Promise<string> {
  const handle = market.bounty.credits.store.handle;
  let creator = agents[0] as string;
  let most = -1;
  for (const agent of agents) {
    const { available } = await market.bounty.credits.balance(handle, agent);
    if (available > most) [creator, most] = [agent, available];
  }
  const runner = createRunner({
    log: dyingLog(market.log),
    owner: "demo-process-that-died",
    leaseTtlMs: CRASHED_LEASE_MS,
    retry: { attempts: 1 },
  });
  const sagaId = "bounty-crashed-after-reserve";
  await runner.run(
    bountySagas(market.bounty).create,
    {
      bountyId: "bounty-crashed",
      title: "Left for recovery",
      amount: Math.max(1, Math.min(5, most)),
      creator,
      deadline: Date.now() + 3_600_000,
    },
    { sagaId },
  );
  // Until its lease lapses, recovery (and doctor) see a runner that may still be working.
  await new Promise((resolve) => setTimeout(resolve, CRASHED_LEASE_MS + 50));
  return sagaId;
}

/** Prints the epilogue: a saga's story, then a crash for `doctor` to explain. */
export async function printEpilogue(
  market: Marketplace,
  dir: string,
  agents: readonly string[],
): Promise<void> {
  const log = `sqlite:${dir}/marketplace.db`;
  const env = dir === DEMO_DIR ? "" : `LOCKSTEP_DEMO_DIR=${dir} `;
  process.env.LOCKSTEP_DEMO_DIR = dir;
  const story = interestingSaga(await market.log.list({ limit: 1_000 }));
  if (story !== undefined) {
    console.log(
      `\none saga's story: ${story.sagaId} (${story.definition.name}, ${story.status}${story.fencingToken > 1 ? `, taken over ${story.fencingToken - 1} time(s)` : ""})`,
    );
    await run(["sagas", "show", story.sagaId, "--log", log], "");
  }
  const crashed = await crashAfterReserve(market, agents);
  console.log(
    `\none more bounty, whose process died right after its credits were reserved (${crashed}): what doctor finds`,
  );
  await run(["doctor", crashed, "--config", CONFIG], env);
  console.log(
    `\nto finish it: ${env}npx lockstep recover --config ${CONFIG}\n(or keep a worker running: ${env}npx lockstep recover --watch --config ${CONFIG})`,
  );
}
