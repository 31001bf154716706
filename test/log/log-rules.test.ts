import {
  AttentionReason,
  applyChange,
  checkListFilter,
  checkWrite,
  isLeaseFree,
  LockstepDefinitionError,
  matchesListFilter,
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

  it("checkWrite's refusals say who owns the saga now, or what status it is in", () => {
    const record = sagaRecord("s-1", { fencingToken: 3, status: SagaStatus.Completed });
    expect(thrown(() => checkWrite(record, 2, { now: 1 }, 0))).toMatchObject({
      message: 'Saga "s-1" is now owned under fencing token 3; a write with token 2 was refused.',
    });
    const statuses = [SagaStatus.Running, SagaStatus.InDoubt];
    expect(
      thrown(() => checkWrite(record, 3, { now: 1, expectStatus: statuses }, 0)),
    ).toMatchObject({
      message: 'Saga "s-1" is completed, not running or in_doubt; the write was refused.',
    });
  });

  it("isLeaseFree: a finished saga's lease is never free; a lease nobody holds is, whatever its expiry", () => {
    const expired = { leaseOwner: "runner-a", leaseExpiresAt: 1_000 };
    for (const status of TERMINAL_STATUSES) {
      expect(isLeaseFree(sagaRecord("s-1", { ...expired, status }), 5_000), status).toBe(false);
    }
    expect(TERMINAL_STATUSES.length).toBeGreaterThan(0);
    const released = sagaRecord("s-1", { leaseOwner: null, leaseExpiresAt: 9_000 });
    expect(isLeaseFree(released, 5_000)).toBe(true);
  });

  it("prunableStatuses names every live status it refuses", () => {
    const error = thrown(() => prunableStatuses([SagaStatus.Running, SagaStatus.InDoubt]));
    expect((error as Error).message).toBe(
      'Only terminal sagas can be pruned; "running", "in_doubt" are not terminal.',
    );
  });

  it("checkListFilter refuses a bad filter naming the field and the value, and accepts the edges", () => {
    const message = (filter: Parameters<typeof checkListFilter>[0]) =>
      (thrown(() => checkListFilter(filter)) as Error).message;
    expect(message({ limit: -1 })).toBe("Expected `limit` to be an integer >= 0, got -1.");
    expect(message({ limit: 1.5 })).toBe("Expected `limit` to be an integer >= 0, got 1.5.");
    expect(message({ since: "yesterday" as never })).toMatch(/^Expected `since` to be an integer/);
    expect(message({ until: Symbol("later") as never })).toBe(
      `Expected \`until\` to be an integer >= ${Number.MIN_SAFE_INTEGER}, got Symbol(later).`,
    );
    expect(message({ before: { time: 1, sagaId: 7 as never } })).toBe(
      "Expected `before.sagaId` to be a string, got 7.",
    );
    expect(message({ before: { time: 1, sagaId: Symbol("s") as never } })).toBe(
      "Expected `before.sagaId` to be a string, got Symbol(s).",
    );
    expect(message({ attention: ["bored" as never] })).toBe(
      `Expected \`attention\` to hold reasons among ${Object.values(AttentionReason).join(", ")}, got "bored".`,
    );
    expect(checkListFilter({ limit: 0, since: -5, until: 0 })).toBe("created");
    expect(checkListFilter({ orderBy: "updated" })).toBe("updated");
  });

  it("matchesListFilter keeps the records inside since and until, and with an attention reason asked for", () => {
    const at = (createdAt: number) => sagaRecord(`s-${createdAt}`, { createdAt });
    const window = { since: 10, until: 20 };
    expect(
      [9, 10, 19, 20].map((t) => matchesListFilter(at(t), window, "created")),
      "since is inclusive, until exclusive",
    ).toEqual([false, true, true, false]);
    const stuck = sagaRecord("s-1", {
      status: SagaStatus.NeedsAttention,
      attention: { reason: AttentionReason.GuardFailed, step: "reserve", message: "moved" },
    });
    const asked = { attention: [AttentionReason.GuardFailed] };
    expect(matchesListFilter(stuck, asked, "created")).toBe(true);
    expect(matchesListFilter(sagaRecord("s-2"), asked, "created")).toBe(false);
    expect(
      matchesListFilter(stuck, { attention: [AttentionReason.InDoubtExhausted] }, "created"),
    ).toBe(false);
  });

  it("SagaLogError names itself, its reason and its saga", () => {
    const error = new SagaLogError("not_found", "s-9", 'No saga with id "s-9" exists in the log.');
    expect([error.name, error.reason, error.sagaId]).toEqual(["SagaLogError", "not_found", "s-9"]);
    expect(String(error)).toBe('SagaLogError: No saga with id "s-9" exists in the log.');
  });
});
