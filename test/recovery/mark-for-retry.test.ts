import { describe, expect, it } from "vitest";
import {
  createRecoverer,
  createRunner,
  MemorySagaLog,
  markForRetry,
  newSagaId,
  retryStatus,
  type SagaLog,
  SagaStatus,
} from "../../src/index.js";
import { intent, leaveCrashed } from "../observability/support/crash.js";
import { orderWorld } from "../observability/support/order-world.js";

const who = { actor: "ops", action: "retry", note: "fixed the hold" };

/** `log`, whose `load` answers `load` instead: a reader that saw the saga at another moment. */
function withLoad(log: SagaLog, load: SagaLog["load"]): SagaLog {
  return new Proxy(log, {
    get(target, property) {
      if (property === "load") return load;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A saga left needing attention after `entries`, with `reason`. */
async function stuck(
  log: SagaLog,
  reason: "guard_failed" | "in_doubt_exhausted" | "forward_failed",
  entries = [intent("hold")],
) {
  const world = orderWorld();
  const sagaId = newSagaId();
  await leaveCrashed(log, world.saga, sagaId, { id: "o-1" }, entries);
  await log.write(sagaId, 1, {
    status: SagaStatus.NeedsAttention,
    attention: { reason, step: "hold", message: "stuck" },
    releaseLease: true,
    now: Date.now() - 1_000,
  });
  return { sagaId, world };
}

describe("markForRetry", () => {
  it("hands the saga back to recovery in one fenced write: operator entry, status, attempts reset", async () => {
    const log = new MemorySagaLog();
    const { sagaId, world } = await stuck(log, "forward_failed");
    const marking = await markForRetry(log, sagaId, who);
    expect(marking).toEqual({ marked: true, status: "running", token: 2 });
    const after = await log.load(sagaId);
    expect(after?.record).toMatchObject({
      status: "running",
      attention: null,
      fencingToken: 2,
      leaseOwner: null,
      recoveryAttempts: 0,
    });
    // Written by the fencing write, so stamped with the token it was written under.
    expect(after?.entries.at(-1)).toMatchObject({ type: "operator", token: 1, operator: who });
    // Recovery now picks it up and finishes it.
    const runner = createRunner({ log, owner: "worker" });
    const report = (
      await createRecoverer({ runner, sagas: [world.saga] }).recover()
    )._unsafeUnwrap();
    expect(report.claimed).toBe(1);
    expect((await log.load(sagaId))?.record.status).toBe("compensated");
  });

  it("resumes where recovery stopped: in doubt after an exhausted probe, compensating once undoing began", async () => {
    const log = new MemorySagaLog();
    const doubt = await stuck(log, "in_doubt_exhausted");
    const undoing = await stuck(log, "guard_failed", [
      intent("hold"),
      {
        step: "hold",
        type: "committed",
        attempt: 1,
        at: Date.now() - 100_000,
        output: { version: 1 },
        via: "execute",
      },
      { step: "hold", type: "compensation_intent", attempt: 1, at: Date.now() - 99_000 },
      {
        step: "hold",
        type: "guard_failed",
        attempt: 1,
        at: Date.now() - 98_000,
        error: { kind: "conflict", message: "changed" },
      },
    ]);
    const forward = await stuck(log, "forward_failed");
    const statuses = await Promise.all(
      [doubt, undoing, forward].map(async (s) => retryStatus((await log.load(s.sagaId)) as never)),
    );
    expect(statuses).toEqual(["in_doubt", "compensating", "running"]);
  });

  it("refuses, changing nothing: an unknown saga, one that does not need attention, one leased", async () => {
    const log = new MemorySagaLog();
    const world = orderWorld();
    expect(await markForRetry(log, "01NONE", who)).toMatchObject({
      marked: false,
      reason: "not_found",
    });
    const running = newSagaId();
    await leaveCrashed(log, world.saga, running, { id: "o-2" }, [intent("hold")]);
    const before = JSON.stringify(await log.load(running));
    expect(await markForRetry(log, running, who)).toMatchObject({
      marked: false,
      reason: "not_needs_attention",
    });
    expect(JSON.stringify(await log.load(running))).toBe(before);
    const { sagaId } = await stuck(log, "forward_failed");
    // A person's hand-edit left a live lease on it.
    const now = Date.now();
    const snapshot = (await log.load(sagaId)) as NonNullable<Awaited<ReturnType<SagaLog["load"]>>>;
    const leasedLog = withLoad(log, async () => ({
      ...snapshot,
      record: { ...snapshot.record, leaseOwner: "runner-x", leaseExpiresAt: now + 60_000 },
    }));
    const leased = await markForRetry(leasedLog, sagaId, who);
    expect(leased).toMatchObject({ marked: false, reason: "lease_held" });
    expect(leased.marked ? "" : leased.message).toContain('leased to "runner-x"');
    expect((await log.load(sagaId))?.record.status).toBe("needs_attention");
  });

  it("refuses a saga that changed between its read and the write, by the log's compare-and-set", async () => {
    const log = new MemorySagaLog();
    const { sagaId } = await stuck(log, "forward_failed");
    const stale = await log.load(sagaId);
    // Someone else marks it first; our read is now stale.
    expect((await markForRetry(log, sagaId, { ...who, actor: "first" })).marked).toBe(true);
    const staleLog = withLoad(log, async () => stale);
    const second = await markForRetry(staleLog, sagaId, { ...who, actor: "second" });
    expect(second).toMatchObject({ marked: false, reason: "changed" });
    const notes = (await log.load(sagaId))?.entries.filter((e) => e.type === "operator");
    expect(notes?.map((e) => e.operator?.actor)).toEqual(["first"]);
  });
});

describe("Recoverer.recoverSaga", () => {
  it("recovers one saga now, with the operator entry under the new token, and takes none it cannot lease", async () => {
    const log = new MemorySagaLog();
    const world = orderWorld();
    const lapsed = newSagaId();
    await leaveCrashed(log, world.saga, lapsed, { id: "o-1" }, [intent("hold")]);
    const live = newSagaId();
    await leaveCrashed(log, world.saga, live, { id: "o-2" }, [intent("hold")], { leaseLive: true });
    const recoverer = createRecoverer({
      runner: createRunner({ log, owner: "console:ops" }),
      sagas: [world.saga],
    });
    const done = (
      await recoverer.recoverSaga(lapsed, { operator: { ...who, action: "recover" } })
    )._unsafeUnwrap();
    expect(done?.outcome).toBe("compensated");
    const entries = (await log.load(lapsed))?.entries ?? [];
    expect(entries.find((e) => e.type === "operator")).toMatchObject({
      token: 2,
      operator: { action: "recover" },
    });
    const before = JSON.stringify(await log.load(live));
    expect((await recoverer.recoverSaga(live))._unsafeUnwrap()).toBeUndefined();
    expect(JSON.stringify(await log.load(live))).toBe(before);
  });
});
