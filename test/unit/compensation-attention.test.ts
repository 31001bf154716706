import { describe, expect, it } from "vitest";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  createRecoverer,
  createRunner,
  diagnoseSaga,
  ErrorCode,
  MemorySagaLog,
  SagaStatus,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { paySaga } from "../support/pay-saga.js";

describe("a compensation that fails for good", () => {
  it("hands the saga to a person naming the step whose compensation failed, not the step that failed", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    const store = createMemoryStore({ id: "cards", tier: "plain" });
    // capture is refused, so hold is compensated; its compensation keeps failing.
    const saga = paySaga(store, { refused: true, holdStuck: "the hold service is down" });
    const runner = createRunner({ clock, log, leaseTtlMs: 1_000, retry: { attempts: 2 } });
    const first = await clock.run(runner.run(saga, { id: "h-1" }, { sagaId: "h-1" }));
    const failed = first._unsafeUnwrapErr();
    // The run itself reports the step that failed; its compensation is left to recovery.
    expect(failed.code).toBe(ErrorCode.StepFailed);
    if (failed.code === ErrorCode.StepFailed) expect(failed.step).toBe("capture");

    const recoverer = createRecoverer({
      runner: createRunner({ clock, log, leaseTtlMs: 1_000, retry: { attempts: 1 } }),
      sagas: [saga],
      maxAttempts: 2,
      backoff: { initialDelayMs: 10, jitter: 0 },
    });
    const outcomes: string[] = [];
    let last: Awaited<ReturnType<typeof recoverer.recover>> | undefined;
    for (let pass = 0; pass < 2; pass++) {
      clock.advance(10_000);
      last = await clock.run(recoverer.recover());
      outcomes.push(last._unsafeUnwrap().sagas[0]?.outcome ?? "none");
    }
    expect(outcomes).toEqual(["compensating", "needs_attention"]);
    const recovered = last?._unsafeUnwrap().sagas[0];
    const error = recovered?.error;
    expect(error?.code).toBe(ErrorCode.NeedsAttention);
    if (error?.code !== ErrorCode.NeedsAttention) return;
    expect(error.step).toBe("hold");
    expect(error.reason).toBe(AttentionReason.CompensationFailed);
    expect(error.message).toContain('the compensation of step "hold"');
    expect(error.message).toContain("the hold service is down");
    expect(error.message).toContain('step "capture" had failed');
    expect(recovered?.report?.attention?.step).toBe("hold");
    expect(error.report.attention?.step).toBe("hold");

    const record = (await log.load("h-1"))?.record;
    expect(record?.status).toBe(SagaStatus.NeedsAttention);
    expect(record?.attention?.step).toBe("hold");
    expect(record?.attention?.reason).toBe(AttentionReason.CompensationFailed);

    // What an operator reads (doctor, sagas show) comes from that record.
    const diagnosis = (await diagnoseSaga(log, "h-1", { sagas: [saga] }))._unsafeUnwrap();
    expect(diagnosis.facts[0]).toContain('at step "hold"');
  });
});
