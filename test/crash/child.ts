/**
 * A crash-suite child process. It opens the SQLite files in DIR (and the MySQL log a MySQL run
 * names there), counts every durable boundary (each
 * log call and each statement, before and after, and each commit), and SIGKILLs itself at boundary
 * CRASH_AT. With CRASH_AT=0 it runs to the end and prints the boundaries it passed as JSON.
 *   PHASE=run      runs the transfer saga once
 *   PHASE=recover  runs one recovery pass, with a clock an hour ahead so every lease has lapsed
 */
import { createRecoverer, createRunner, systemClock } from "../../src/index.js";
import { hookLog, hookStore, openWorld, SAGA_ID, transferSaga } from "./transfer-world.js";

const dir = process.env.DIR as string;
const phase = process.env.PHASE as "run" | "recover";
const crashAt = Number(process.env.CRASH_AT ?? "0");
const names: string[] = [];

function boundary(name: string): void {
  names.push(name);
  if (names.length === crashAt) {
    process.kill(process.pid, "SIGKILL");
    for (;;) {
      // Nothing may run after the kill is sent.
    }
  }
}

const world = openWorld(dir, {
  store: (store, name) => hookStore(store, boundary, name),
  log: (log) => hookLog(log, boundary),
});
const saga = transferSaga(world);
const ahead = { now: () => Date.now() + 3_600_000, setTimer: systemClock.setTimer };

if (phase === "run") {
  const runner = createRunner({ log: world.log, leaseTtlMs: 60_000 });
  const r = await runner.run(
    saga,
    { orderId: "o-1", account: "alice", amount: 30 },
    { sagaId: SAGA_ID },
  );
  if (r.isErr()) process.stderr.write(`${r.error.code}: ${r.error.message}\n`);
} else {
  const runner = createRunner({ log: world.log, clock: ahead, leaseTtlMs: 60_000 });
  await createRecoverer({ runner, sagas: [saga] }).recover();
}
await world.close();
process.stdout.write(JSON.stringify({ boundaries: names }));
