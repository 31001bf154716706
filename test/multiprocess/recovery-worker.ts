/**
 * One recovery worker process: `node --import tsx test/multiprocess/recovery-worker.ts`. It opens
 * the world named by its environment, says "ready", waits for "go" on stdin (so every worker starts
 * claiming at once), then runs recovery passes until no recoverable saga is left, and prints one
 * `result {…}` line with what it claimed.
 */
import { createInterface } from "node:readline";
import { createRecoverer, createRunner, RECOVERABLE_STATUSES } from "../../src/index.js";
import { fulfilSaga, openFulfilWorld } from "./fulfil-world.js";

const { MAIN_URL, OTHER_URL, WORKER } = process.env;
if (MAIN_URL === undefined || OTHER_URL === undefined || WORKER === undefined) {
  throw new Error("MAIN_URL, OTHER_URL and WORKER must be set.");
}

const world = openFulfilWorld(MAIN_URL, OTHER_URL, WORKER);
const runner = createRunner({ log: world.log, owner: WORKER, leaseTtlMs: 30_000 });
const recoverer = createRecoverer({ runner, sagas: [fulfilSaga(world)] });

await world.log.ensureSchema();
console.log("ready");
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => {
  lines.on("line", (line) => {
    if (line.trim() === "go") resolve();
  });
});
lines.close();

const claimed: string[] = [];
const outcomes: Record<string, number> = {};
const giveUpAt = Date.now() + 45_000;
let passes = 0;
for (;;) {
  if (Date.now() > giveUpAt) {
    console.log(`result ${JSON.stringify({ worker: WORKER, error: "gave up after 45 s" })}`);
    process.exit(2);
  }
  const pass = await recoverer.recover({ limit: 16, concurrency: 4 });
  if (pass.isErr()) {
    console.log(`result ${JSON.stringify({ worker: WORKER, error: pass.error.message })}`);
    process.exit(3);
  }
  passes++;
  for (const saga of pass.value.sagas) {
    claimed.push(saga.sagaId);
    outcomes[saga.outcome] = (outcomes[saga.outcome] ?? 0) + 1;
  }
  if (pass.value.claimed > 0) continue;
  // Nothing to claim: done once no saga is left to recover, by anyone.
  const left = await world.log.list({ status: RECOVERABLE_STATUSES, limit: 1 });
  if (left.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 25));
}
console.log(`result ${JSON.stringify({ worker: WORKER, passes, claimed, outcomes })}`);
await world.close();
