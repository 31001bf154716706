/**
 * An outbox relay child process. It opens the SQLite log in DIR, publishes to TARGET (JSON) over a
 * client of its own, with its clock AHEAD_MS ahead (so the claims of relays killed before it have
 * lapsed), writes one line per message the broker took, and SIGKILLs itself right after the
 * KILL_AFTER-th broker confirmation: between the publish and the mark. With KILL_AFTER=0 it runs
 * until nothing is left to claim.
 */
import { writeSync } from "node:fs";
import { join } from "node:path";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { systemClock } from "../../src/index.js";
import { createRelay } from "../../src/outbox/index.js";
import { openPublisher, type Target } from "./brokers.js";

const dir = process.env.DIR as string;
const target = JSON.parse(process.env.TARGET as string) as Target;
const killAfter = Number(process.env.KILL_AFTER ?? "0");
const ahead = Number(process.env.AHEAD_MS ?? "0");

const db = openSqlite(join(dir, "orders.db"));
const log = sqliteSagaLog(db, { coCommitWith: "orders-db" });
const { publisher, close } = await openPublisher(target);
let published = 0;
const relay = createRelay({
  log,
  publisher,
  owner: `relay-child-${process.pid}`,
  batchSize: 5,
  leaseMs: 60_000,
  publishTimeoutMs: 5_000,
  clock: { now: () => Date.now() + ahead, setTimer: systemClock.setTimer },
  onEvent: (event) => {
    if (event.type !== "relay.published") return;
    writeSync(1, `${JSON.stringify({ published: event.messageId, duplicate: event.duplicate })}\n`);
    if (++published === killAfter) {
      process.kill(process.pid, "SIGKILL");
      for (;;) {
        // Nothing may run after the kill is sent: the mark never happens.
      }
    }
  },
});
for (;;) {
  const pass = await relay.runOnce();
  if (pass.claimed === 0) break;
}
await close();
db.close();
