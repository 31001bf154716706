import { join } from "node:path";
import { openSqlite, sqliteSagaLog } from "../../../src/adapters/sqlite/index.js";
import {
  type Clock,
  createRecoverer,
  createRunner,
  newSagaId,
  type SagaLog,
  SagaStatus,
  systemClock,
} from "../../../src/index.js";
import { intent, leaveCrashed } from "../../observability/support/crash.js";
import { orderWorld } from "../../observability/support/order-world.js";

/** The markup a hostile saga input carries; the console must show it as text. */
export const HOSTILE_INPUT = `<script>window.__pwned = true; alert("pwned")</script>`;

/** The sagas the seed leaves, by what each is for. */
export interface ConsoleSeed {
  readonly completed: string;
  readonly compensated: string;
  readonly inDoubt: string;
  /** Its `notify` step was refused, then recovery took it over (token 2) and completed it. */
  readonly takenOver: string;
  /** A runner died holding it; its lease lapsed: recovery may take it. */
  readonly crashed: string;
  /** A runner holds its lease now: every action on it is refused. */
  readonly leased: string;
  readonly compensating: string;
  /** Needs attention (guard_failed); its input carries {@link HOSTILE_INPUT}. */
  readonly guardFailed: string;
  /** Needs attention (escalated). */
  readonly escalated: string;
  readonly quarantined: string;
}

/** How many sagas {@link seedConsoleLog} writes, and how many of each status. */
export const SEEDED_STATUSES: Readonly<Record<SagaStatus, number>> = {
  completed: 2,
  compensated: 1,
  in_doubt: 1,
  running: 2,
  compensating: 1,
  needs_attention: 2,
  quarantined: 1,
};

/** A clock ten minutes ahead, so recovery finds every lease the seed's runs took lapsed. */
const later: Clock = { now: () => Date.now() + 600_000, setTimer: systemClock.setTimer };

/**
 * Fills a SQLite saga log at `dir/console.db` with sagas in every status, through real runs of the
 * order saga where a run can get there and through the log's own writes where only a crash or a
 * person would. Returns the log, the saga definition, and the id of each saga.
 */
export async function seedConsoleLog(dir: string) {
  const db = openSqlite(join(dir, "console.db"));
  const log: SagaLog = sqliteSagaLog(db);
  const world = orderWorld();
  const runner = createRunner({ log, owner: "app-1" });
  const run = async (id: string, switches: Partial<typeof world.switches>) => {
    Object.assign(world.switches, {
      chargeRefused: false,
      chargeLost: false,
      chargeProbeBlind: false,
      notifyRefused: false,
      ...switches,
    });
    const result = await runner.run(world.saga, { id });
    return result.isOk()
      ? result.value.sagaId
      : (result.error as { report: { sagaId: string } }).report.sagaId;
  };
  const completed = await run("o-done", {});
  const compensated = await run("o-declined", { chargeRefused: true });
  const inDoubt = await run("o-lost", { chargeLost: true, chargeProbeBlind: true });
  const takenOver = await run("o-mail", { notifyRefused: true });
  world.switches.notifyRefused = false;
  const recoverer = createRecoverer({
    runner: createRunner({ log, owner: "recovery-worker-1", clock: later }),
    sagas: [world.saga],
  });
  const recovered = (await recoverer.recoverSaga(takenOver))._unsafeUnwrap();
  if (recovered?.outcome !== "completed")
    throw new Error(`seed: recovery ended ${recovered?.outcome}`);

  const crashed = newSagaId();
  await leaveCrashed(log, world.saga, crashed, { id: "o-crashed" }, [intent("hold")]);
  const leased = newSagaId();
  await leaveCrashed(log, world.saga, leased, { id: "o-busy" }, [intent("hold")], {
    leaseLive: true,
  });
  const compensating = newSagaId();
  await leaveCrashed(log, world.saga, compensating, { id: "o-undo" }, [intent("hold")], {
    status: SagaStatus.Compensating,
  });
  const attention = async (
    input: unknown,
    reason: "guard_failed" | "escalated",
    message: string,
  ) => {
    const sagaId = newSagaId();
    await leaveCrashed(log, world.saga, sagaId, input, [intent("hold")]);
    await log.write(sagaId, 1, {
      status: SagaStatus.NeedsAttention,
      attention: { reason, step: "hold", message },
      releaseLease: true,
      now: Date.now() - 60_000,
    });
    return sagaId;
  };
  const guardFailed = await attention(
    { id: "o-guard", note: HOSTILE_INPUT },
    "guard_failed",
    `the hold changed: ${HOSTILE_INPUT}`,
  );
  const escalated = await attention(
    { id: "o-esc" },
    "escalated",
    "the customer closed the account",
  );
  const quarantined = newSagaId();
  await leaveCrashed(log, world.saga, quarantined, { id: "o-bad" }, []);
  await log.quarantine(
    quarantined,
    { field: "input", message: "hand-edited" },
    Date.now() - 30_000,
  );
  const ids: ConsoleSeed = {
    completed,
    compensated,
    inDoubt,
    takenOver,
    crashed,
    leased,
    compensating,
    guardFailed,
    escalated,
    quarantined,
  };
  return { db, log, world, ids, close: () => db.close() };
}
