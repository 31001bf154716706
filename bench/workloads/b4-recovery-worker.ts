/**
 * One B4 recovery worker process. It opens the world named by its environment, says "ready",
 * waits for "go" on stdin (so every worker starts claiming at once), runs recovery passes until no
 * recoverable saga is left in the log, and prints its result line.
 */
import { createInterface } from "node:readline";
import { createRecoverer, createRunner, RECOVERABLE_STATUSES } from "lockstep";
import { sendResult } from "../support/child.js";
import { openRecoveryWorld } from "./b4-recovery-world.js";

const { LOG_URL, APP_URL, WORKER, CONCURRENCY } = process.env;
if (LOG_URL === undefined || APP_URL === undefined || WORKER === undefined) {
  throw new Error("LOG_URL, APP_URL and WORKER must be set.");
}
const concurrency = Number(CONCURRENCY ?? 6);
const world = openRecoveryWorld(LOG_URL, APP_URL, concurrency);
const runner = createRunner({ log: world.log, owner: WORKER, leaseTtlMs: 60_000 });
const recoverer = createRecoverer({ runner, sagas: [world.saga] });
await world.log.ensureSchema();
console.log("ready");
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.on("line", (line) => line.trim() === "go" && resolve()));
lines.close();

const cpuAtGo = process.cpuUsage();
const outcomes: Record<string, number> = {};
let claimed = 0;
// Bounded: a worker that has not finished in this long reports failure instead of running on.
const giveUpAt = Date.now() + 240_000;
for (;;) {
  if (Date.now() > giveUpAt) throw new Error(`${WORKER} gave up after 240 s`);
  // A pass claims several sagas per concurrent slot, so claiming is a small share of the work.
  const pass = await recoverer.recover({ limit: concurrency * 8, concurrency });
  if (pass.isErr()) throw new Error(pass.error.message);
  claimed += pass.value.claimed;
  for (const saga of pass.value.sagas) outcomes[saga.outcome] = (outcomes[saga.outcome] ?? 0) + 1;
  if (pass.value.claimed > 0) continue;
  const left = await world.log.list({ status: RECOVERABLE_STATUSES, limit: 1 });
  if (left.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const cpu = process.cpuUsage(cpuAtGo);
sendResult({
  worker: WORKER,
  claimed,
  outcomes,
  finishedAt: Date.now(),
  cpuMs: (cpu.user + cpu.system) / 1000,
});
await world.close();
