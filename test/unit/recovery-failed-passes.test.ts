import { afterEach, describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  createRecoverer,
  createRunner,
  ErrorCode,
  type SagaChange,
  type SagaLog,
  SagaLogError,
  SagaStatus,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { closeLogs, LOGS, paySaga } from "../support/pay-saga.js";

const TTL = 1_000;

/** What a test does to a log: refuse every write that records an entry of `refuse`, fail loads. */
interface Sabotage {
  refuse: { step: string; type: string } | undefined;
  failLoads: number;
}

/** `log` with its writes of `refuse` entries refused and its next `failLoads` loads failed. */
function sabotaged(log: SagaLog, sabotage: Sabotage): SagaLog {
  return new Proxy(log, {
    get(target, property) {
      if (property === "write") {
        return async (sagaId: string, token: number, change: SagaChange) => {
          const { refuse } = sabotage;
          const refused = change.entries?.some(
            (e) => e.step === refuse?.step && e.type === refuse?.type,
          );
          if (refused) {
            throw new SagaLogError("io", sagaId, "The log's disk refused the write.");
          }
          return target.write(sagaId, token, change);
        };
      }
      if (property === "load") {
        return async (sagaId: string) => {
          if (sabotage.failLoads > 0) {
            sabotage.failLoads--;
            throw new SagaLogError("io", sagaId, "The log did not answer the read.");
          }
          return target.load(sagaId);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

afterEach(closeLogs);

async function stuckSaga(open: () => SagaLog, compensating = false) {
  const clock = new VirtualClock();
  const raw = open();
  const sabotage: Sabotage = {
    refuse: compensating
      ? { step: "hold", type: "compensated" }
      : { step: "capture", type: "committed" },
    failLoads: 0,
  };
  const log = sabotaged(raw, sabotage);
  const store = createMemoryStore({ id: "pay", tier: "plain" });
  const saga = paySaga(store, { refused: compensating });
  const runner = createRunner({ clock, log, leaseTtlMs: TTL, random: () => 0.5 });
  const first = await clock.run(runner.run(saga, { id: "p-1" }, { sagaId: "pay-1" }));
  expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.LogFailed);
  const recoverer = createRecoverer({
    runner: createRunner({ clock, log, leaseTtlMs: TTL, random: () => 0.5 }),
    sagas: [saga],
    maxAttempts: 3,
    backoff: { initialDelayMs: 5_000, jitter: 0 },
  });
  return { clock, raw, sabotage, recoverer };
}

for (const { name, open } of LOGS) {
  describe(`a recovery pass that fails for a saga, on ${name}`, () => {
    it("counts toward maxAttempts and backs off, and the last one hands the saga to a person", async () => {
      const { clock, raw, recoverer } = await stuckSaga(open);
      const outcomes: string[] = [];
      const attempts: number[] = [];
      for (let pass = 0; pass < 3; pass++) {
        clock.advance(60_000);
        const report = (await clock.run(recoverer.recover()))._unsafeUnwrap();
        outcomes.push(report.sagas[0]?.outcome ?? "none");
        attempts.push((await raw.load("pay-1"))?.record.recoveryAttempts ?? -1);
      }
      expect(outcomes).toEqual(["failed", "failed", "needs_attention"]);
      expect(attempts).toEqual([1, 2, 3]);
      const record = (await raw.load("pay-1"))?.record;
      expect(record?.status).toBe(SagaStatus.NeedsAttention);
      expect(record?.attention?.reason).toBe(AttentionReason.ForwardFailed);
      expect(record?.attention?.message).toContain("Recovery gave up after 3 attempts");
      expect(record?.attention?.message).toContain("The log's disk refused the write.");
      // Handed to a person: no later pass claims it.
      clock.advance(600_000);
      expect((await clock.run(recoverer.recover()))._unsafeUnwrap().claimed).toBe(0);
    });

    it("backs off after a failed pass: one right after its lease lapses leaves the saga alone", async () => {
      const { clock, raw, recoverer } = await stuckSaga(open);
      clock.advance(TTL + 1);
      const first = (await clock.run(recoverer.recover()))._unsafeUnwrap();
      expect(first.sagas[0]?.outcome).toBe("failed");
      const record = (await raw.load("pay-1"))?.record;
      expect(record?.nextRecoveryAt).toBe(clock.now() + 5_000);
      clock.advance(TTL + 1);
      expect((await clock.run(recoverer.recover()))._unsafeUnwrap().claimed).toBe(0);
      clock.advance(5_000);
      expect((await clock.run(recoverer.recover()))._unsafeUnwrap().claimed).toBe(1);
    });

    it("counts a pass that throws for a saga (its log read failed) too", async () => {
      const { clock, raw, sabotage, recoverer } = await stuckSaga(open);
      sabotage.refuse = undefined;
      const outcomes: string[] = [];
      for (let pass = 0; pass < 3; pass++) {
        clock.advance(60_000);
        sabotage.failLoads = 1;
        const report = (await clock.run(recoverer.recover()))._unsafeUnwrap();
        outcomes.push(report.sagas[0]?.outcome ?? "none");
      }
      expect(outcomes).toEqual(["failed", "failed", "needs_attention"]);
      const record = (await raw.load("pay-1"))?.record;
      expect(record?.status).toBe(SagaStatus.NeedsAttention);
      expect(record?.recoveryAttempts).toBe(3);
      expect(record?.attention?.message).toContain("The log did not answer the read.");
    });

    it("names what it was doing: a saga whose compensation the log refuses ends compensation_failed", async () => {
      const { clock, raw, recoverer } = await stuckSaga(open, true);
      expect((await raw.load("pay-1"))?.record.status).toBe(SagaStatus.Compensating);
      const outcomes: string[] = [];
      for (let pass = 0; pass < 3; pass++) {
        clock.advance(60_000);
        const report = (await clock.run(recoverer.recover()))._unsafeUnwrap();
        outcomes.push(report.sagas[0]?.outcome ?? "none");
      }
      expect(outcomes).toEqual(["failed", "failed", "needs_attention"]);
      const record = (await raw.load("pay-1"))?.record;
      expect(record?.attention?.reason).toBe(AttentionReason.CompensationFailed);
      expect(record?.attention?.message).toContain("The log's disk refused the write.");
    });
  });
}
