/**
 * One submitting process of the multi-process chaos run: `node --import tsx test/chaos/submit-child.ts`.
 * It opens the chaos world named by BANK_URL and SHOP_URL, reads one line of JSON from stdin (the
 * saga ids to submit, in order), runs them IN_FLIGHT at a time, and prints `done <id> <outcome>` as
 * each run returns, then `finished`. The parent SIGKILLs it at any moment and submits what it had
 * not finished again from a fresh process; other processes submit the same ids concurrently.
 */
import { createInterface } from "node:readline";
import { createRunner } from "../../src/index.js";
import { inputOf, openChaosWorld } from "./chaos-bank.js";

const { BANK_URL, SHOP_URL, OWNER } = process.env;
if (BANK_URL === undefined || SHOP_URL === undefined || OWNER === undefined) {
  throw new Error("BANK_URL, SHOP_URL and OWNER must be set.");
}
const IN_FLIGHT = 8;

const lines = createInterface({ input: process.stdin });
const ids = await new Promise<string[]>((resolve) => {
  lines.once("line", (line) => resolve(JSON.parse(line) as string[]));
});
lines.close();

const world = openChaosWorld(BANK_URL, SHOP_URL, IN_FLIGHT);
const runner = createRunner({
  log: world.log,
  owner: OWNER,
  leaseTtlMs: 2_000,
  retry: { attempts: 4, initialDelayMs: 20, maxDelayMs: 200 },
});
let next = 0;
const worker = async () => {
  while (next < ids.length) {
    const sagaId = ids[next++] as string;
    const result = await runner.run(world.saga, inputOf(sagaId), { sagaId });
    const outcome = result.isOk() ? result.value.status : result.error.code;
    process.stdout.write(`done ${sagaId} ${outcome}\n`);
  }
};
await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
await world.close();
process.stdout.write("finished\n");
