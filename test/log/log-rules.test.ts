import {
  AttentionReason,
  applyChange,
  checkWrite,
  isLeaseFree,
  LockstepDefinitionError,
  numberEntries,
  prunableStatuses,
  SagaLogError,
  SagaStatus,
  SCHEMA_VERSION,
  sagaRecordSchema,
  TERMINAL_STATUSES,
  validateLogRecord,
} from "lockstep";
import { describe, expect, it } from "vitest";
import { sagaRecord, stepEntry } from "../conformance/saga-log.js";

/** The error `fn` threw; fails the test if it returned. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("Expected the call to throw, but it returned.");
}

describe("the log's write rules, as lockstep exports them for third-party logs", () => {
  it("validateLogRecord returns the parsed record and names the first invalid field", () => {
    const record = sagaRecord("s-1");
    expect(validateLogRecord(sagaRecordSchema, record, "s-1")).toEqual(record);
    const error = thrown(() =>
      validateLogRecord(sagaRecordSchema, { ...record, fencingToken: "one" }, "s-1"),
    );
    expect(SagaLogError.is(error), "an invalid record must be refused as a log error").toBe(true);
    expect((error as SagaLogError).reason).toBe("corrupt");
    expect((error as SagaLogError).field, "the refusal must name the bad field").toBe(
      "fencingToken",
    );
  });

  it("numberEntries numbers after the last entry and stamps each with the writer's token", () => {
    const entries = numberEntries("s-1", 7, 3, [
      stepEntry("a", "intent"),
      stepEntry("b", "intent"),
    ]);
    expect(entries.map((e) => [e.seq, e.token, e.sagaId, e.schemaVersion])).toEqual([
      [4, 7, "s-1", SCHEMA_VERSION],
      [5, 7, "s-1", SCHEMA_VERSION],
    ]);
    const error = thrown(() =>
      numberEntries("s-1", 7, 0, [{ ...stepEntry("a", "intent"), attempt: -1 }]),
    );
    expect((error as SagaLogError).reason, "an invalid entry must be refused as corrupt").toBe(
      "corrupt",
    );
  });

  it("checkWrite refuses a stale token before an unexpected status, and passes a current write", () => {
    const record = sagaRecord("s-1", { fencingToken: 2, status: SagaStatus.Running });
    expect(() =>
      checkWrite(record, 2, { now: 1, expectStatus: [SagaStatus.Running], expectSeq: 3 }, 3),
    ).not.toThrow();
    const stale = thrown(() =>
      checkWrite(record, 1, { now: 1, expectStatus: [SagaStatus.InDoubt] }, 3),
    );
    expect((stale as SagaLogError).reason).toBe("stale_token");
    const mismatch = thrown(() =>
      checkWrite(record, 2, { now: 1, expectStatus: [SagaStatus.InDoubt], expectSeq: 2 }, 3),
    );
    expect((mismatch as SagaLogError).reason).toBe("status_mismatch");
    const version = thrown(() =>
      checkWrite(record, 2, { now: 1, expectStatus: [SagaStatus.Running], expectSeq: 2 }, 3),
    );
    expect((version as SagaLogError).reason).toBe("version_mismatch");
    expect((version as SagaLogError).message).toContain("number 3, the write expected 2");
  });

  it("applyChange sets the status, clears attention and the lease, and counts recovery", () => {
    const record = sagaRecord("s-1", {
      status: SagaStatus.InDoubt,
      attention: {
        reason: AttentionReason.InDoubtExhausted,
        step: "charge",
        message: "cannot tell",
      },
    });
    const next = applyChange(record, {
      now: 99,
      status: SagaStatus.Running,
      releaseLease: true,
      recovery: { attempts: 2, nextAt: 500 },
    });
    expect(next).toMatchObject({
      status: SagaStatus.Running,
      attention: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      recoveryAttempts: 2,
      nextRecoveryAt: 500,
      updatedAt: 99,
    });
    expect(applyChange(record, { now: 99 }).attention, "no new status keeps attention").toEqual(
      record.attention,
    );
  });

  it("isLeaseFree: free when nobody holds it or it has expired, taken while it is live", () => {
    const held = sagaRecord("s-1", { leaseOwner: "runner-a", leaseExpiresAt: 1_000 });
    expect(isLeaseFree(held, 999)).toBe(false);
    expect(isLeaseFree(held, 1_000)).toBe(true);
    expect(isLeaseFree({ ...held, leaseOwner: null, leaseExpiresAt: null }, 0)).toBe(true);
  });

  it("prunableStatuses accepts every terminal status and refuses a live one by name", () => {
    expect(prunableStatuses(TERMINAL_STATUSES)).toEqual(TERMINAL_STATUSES);
    const error = thrown(() => prunableStatuses([SagaStatus.Completed, SagaStatus.Running]));
    expect(LockstepDefinitionError.is(error), "pruning a live saga must be refused").toBe(true);
    expect(String(error)).toMatch(/"running" is not terminal/);
  });
});
