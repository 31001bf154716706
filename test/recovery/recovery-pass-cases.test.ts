import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import {
  AttentionReason,
  committed,
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  escalate,
  LockstepDefinitionError,
  MemorySagaLog,
  notCommitted,
  type RecovererOptions,
  type SagaChange,
  type SagaLog,
  SagaLogError,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { committedEntry, intent, leaveCrashed } from "../observability/support/crash.js";

/** What the next drive of `notify` does. */
interface Switches {
  notify: "write" | "refuse" | "escalate";
  /** Called inside notify's execute, before it does anything else. */
  during: ((sagaId: string) => Promise<void>) | undefined;
}

/** `log` whose methods named in `overrides` answer instead: a log that fails or races at will. */
function withOverrides(log: SagaLog, overrides: Partial<SagaLog>): SagaLog {
  return new Proxy(log, {
    get(target, property) {
      const override = overrides[property as keyof SagaLog];
      if (override !== undefined) return override;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A parcel saga: `book` (the pivot, probed) then `notify` (retriable, one attempt), both on a memory
 * store. Sagas are left in the log as a runner that died would leave them.
 */
function parcelWorld(version = 1) {
  const clock = new VirtualClock();
  const log = new MemorySagaLog();
  const store = createMemoryStore({ id: "memory:parcels", tier: "plain" });
  const switches: Switches = { notify: "write", during: undefined };
  const probe: { answer: "committed" | "not_committed" | "blind" } = { answer: "blind" };
  const define = (v: number) =>
    defineSaga("parcel", { input: z.object({ id: z.string() }), version: v })
      .step("book", {
        store,
        kind: "pivot",
        output: z.object({ booked: z.boolean() }),
        retry: { attempts: 1 },
        execute: async ({ input, handle }) => {
          await handle.put(`book:${input.id}`, { booked: true });
          return { booked: true };
        },
        probe: async () => {
          if (probe.answer === "committed") return committed({ booked: true });
          if (probe.answer === "not_committed") return notCommitted();
          throw new Error("the booking API does not answer");
        },
      })
      .step("notify", {
        store,
        kind: "retriable",
        output: z.object({ sent: z.boolean() }),
        retry: { attempts: 1 },
        execute: async ({ input, handle, sagaId }) => {
          await switches.during?.(sagaId);
          if (switches.notify === "refuse") throw new StoreError("transient", "mail is down");
          if (switches.notify === "escalate") escalate("the address no longer exists");
          await handle.put(`notify:${input.id}`, { sent: true });
          return { sent: true };
        },
      })
      .build();
  const saga = define(version);
  const at = clock.now() - 120_000;
  /** Leaves `sagaId` past its pivot, `notify` not yet run. */
  const pastPivot = (sagaId: string, input: unknown = { id: sagaId }) =>
    leaveCrashed(log, saga, sagaId, input, [committedEntry("book", { booked: true }, at + 2)], {
      at,
    });
  /** Leaves `sagaId` with its pivot's outcome unknown. */
  const pivotUnknown = (sagaId: string) =>
    leaveCrashed(log, saga, sagaId, { id: sagaId }, [intent("book", 1, at + 2)], { at });
  const recoverer = (
    options: { sagas?: RecovererOptions["sagas"]; maxAttempts?: number; log?: SagaLog } = {},
  ) =>
    createRecoverer({
      runner: createRunner({
        clock,
        log: options.log ?? log,
        owner: "recoverer-1",
        leaseTtlMs: 1_000,
        random: () => 0.5,
      }),
      sagas: options.sagas ?? [saga],
      maxAttempts: options.maxAttempts ?? 3,
      backoff: { initialDelayMs: 1_000, jitter: 0 },
    });
  const record = async (sagaId: string) => (await log.load(sagaId))?.record;
  return {
    clock,
    log,
    store,
    switches,
    probe,
    saga,
    define,
    pastPivot,
    pivotUnknown,
    recoverer,
    record,
  };
}

describe("a recovery pass, by what it finds", () => {
  it("hands a saga logged under a version it was not given to a person, in one write that frees the lease", async () => {
    const w = parcelWorld(2);
    await w.pastPivot("p-v2");
    const pass = (
      await w.clock.run(w.recoverer({ sagas: [w.define(1)] }).recover())
    )._unsafeUnwrap();
    const message =
      'Saga "p-v2" cannot be recovered: no definition of saga "parcel" version 2 was given to the recoverer.';
    const attention = { reason: AttentionReason.DefinitionMismatch, step: "", message };
    expect(pass.claimed).toBe(1);
    const [saga] = pass.sagas;
    expect(saga).toMatchObject({ sagaId: "p-v2", saga: "parcel", outcome: "needs_attention" });
    expect(saga?.error).toMatchObject({
      code: ErrorCode.NeedsAttention,
      message,
      sagaId: "p-v2",
      step: "",
      reason: AttentionReason.DefinitionMismatch,
    });
    expect(saga?.error?.code === ErrorCode.NeedsAttention && saga.error.report).toEqual({
      sagaId: "p-v2",
      saga: "parcel",
      status: SagaStatus.NeedsAttention,
      steps: [],
      outputs: {},
      attention,
    });
    expect(await w.record("p-v2")).toMatchObject({
      status: SagaStatus.NeedsAttention,
      attention,
      leaseOwner: null,
    });
    // Nothing of the saga ran.
    expect(w.store.snapshot()["notify:p-v2"]).toBeUndefined();
  });

  it("hands a saga whose logged definition differs from the one it was given to a person, saying how", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-changed");
    // The same name and version, with a step added but no new version.
    const changed = defineSaga("parcel", { input: z.object({ id: z.string() }) })
      .step("book", {
        store: w.store,
        kind: "pivot",
        output: z.object({ booked: z.boolean() }),
        execute: async () => ({ booked: true }),
        probe: async () => committed({ booked: true }),
      })
      .build();
    const pass = (await w.clock.run(w.recoverer({ sagas: [changed] }).recover()))._unsafeUnwrap();
    const message = pass.sagas[0]?.error?.message ?? "";
    expect(message).toMatch(
      /^Saga "p-changed" cannot be recovered: the log's definition of saga "parcel" version 1 differs from the one given to the recoverer \(step "notify" \(step 2\): logged, absent from the given definition\); /,
    );
    expect(await w.record("p-changed")).toMatchObject({
      status: SagaStatus.NeedsAttention,
      attention: { reason: AttentionReason.DefinitionMismatch, step: "", message },
      leaseOwner: null,
    });
  });

  it("hands a saga whose logged input no longer fits the input schema to a person, quoting the schema", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-bad", { id: 42 });
    const pass = (await w.clock.run(w.recoverer().recover()))._unsafeUnwrap();
    const issue = w.saga.input.safeParse({ id: 42 }).error?.issues[0]?.message;
    expect(issue).toBeTruthy();
    const message = `Saga "p-bad" cannot be recovered: its logged input no longer satisfies the input schema (${issue}).`;
    expect(pass.sagas[0]).toMatchObject({ outcome: "needs_attention", error: { message } });
    expect((await w.record("p-bad"))?.attention).toEqual({
      reason: AttentionReason.CorruptRecord,
      step: "",
      message,
    });
    expect(w.store.snapshot()["notify:p-bad"]).toBeUndefined();
  });

  it("reports a saga gone from the log between its claim and its read as failed, and runs nothing", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-gone");
    const pruned = withOverrides(w.log, { load: async () => undefined });
    const pass = (await w.clock.run(w.recoverer({ log: pruned }).recover()))._unsafeUnwrap();
    expect(pass.sagas).toEqual([{ sagaId: "p-gone", saga: undefined, outcome: "failed" }]);
    expect(pass.counts.failed).toBe(1);
    expect(w.store.snapshot()["notify:p-gone"]).toBeUndefined();
  });

  it("counts a step after the pivot that keeps failing as an incomplete attempt, then gives up naming the step", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-mail");
    w.switches.notify = "refuse";
    const recoverer = w.recoverer({ maxAttempts: 2 });
    const first = (await w.clock.run(recoverer.recover()))._unsafeUnwrap();
    expect(first.sagas[0]).toMatchObject({ outcome: "incomplete", saga: "parcel" });
    expect(first.sagas[0]?.error?.code).toBe(ErrorCode.Incomplete);
    expect(first.counts.incomplete).toBe(1);
    expect(await w.record("p-mail")).toMatchObject({
      status: SagaStatus.Running,
      recoveryAttempts: 1,
      attention: null,
    });

    w.clock.advance(10_000);
    const second = (await w.clock.run(recoverer.recover()))._unsafeUnwrap();
    const saga = second.sagas[0];
    expect(saga?.outcome).toBe("needs_attention");
    expect(saga?.error).toMatchObject({
      code: ErrorCode.NeedsAttention,
      step: "notify",
      reason: AttentionReason.ForwardFailed,
    });
    expect(saga?.error?.message).toMatch(/^Recovery gave up after 2 attempts: /);
    expect(await w.record("p-mail")).toMatchObject({
      status: SagaStatus.NeedsAttention,
      recoveryAttempts: 2,
      attention: { reason: AttentionReason.ForwardFailed, step: "notify" },
    });
  });

  it("reports a step that escalates during recovery as needing attention, counting no attempt", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-esc");
    w.switches.notify = "escalate";
    const pass = (await w.clock.run(w.recoverer().recover()))._unsafeUnwrap();
    expect(pass.sagas[0]).toMatchObject({ saga: "parcel", outcome: "needs_attention" });
    expect(pass.sagas[0]?.error).toMatchObject({
      code: ErrorCode.NeedsAttention,
      step: "notify",
      reason: AttentionReason.Escalated,
    });
    expect(pass.sagas[0]?.report?.status).toBe(SagaStatus.NeedsAttention);
    expect(await w.record("p-esc")).toMatchObject({
      status: SagaStatus.NeedsAttention,
      recoveryAttempts: 0,
      attention: { reason: AttentionReason.Escalated, step: "notify" },
    });
  });

  it("stops driving a saga whose lease another runner took mid-drive, and counts no attempt of its own", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-taken");
    w.switches.during = async (sagaId) => {
      w.switches.during = undefined;
      // Another runner, whose clock runs ahead, finds the lease lapsed and takes the saga.
      await w.log.acquireLease(sagaId, "runner-2", 60_000, w.clock.now() + 10_000);
    };
    const pass = (await w.clock.run(w.recoverer().recover()))._unsafeUnwrap();
    expect(pass.sagas[0]).toMatchObject({ saga: "parcel", outcome: "lease_lost" });
    expect(pass.sagas[0]?.error?.code).toBe(ErrorCode.LeaseLost);
    expect(pass.counts.lease_lost).toBe(1);
    expect(await w.record("p-taken")).toMatchObject({
      status: SagaStatus.Running,
      leaseOwner: "runner-2",
      recoveryAttempts: 0,
    });
  });

  it("leaves the attempt to whoever took the saga after its drive freed the lease", async () => {
    const w = parcelWorld();
    await w.pivotUnknown("p-race");
    const racing = withOverrides(w.log, {
      write: async (sagaId: string, token: number, change: SagaChange) => {
        await w.log.write(sagaId, token, change);
        // The drive parked the saga and freed its lease: an operator's recoverSaga takes it at once.
        if (change.releaseLease === true) {
          await w.log.acquireLease(sagaId, "console:ops", 60_000, w.clock.now());
        }
      },
    });
    const pass = (await w.clock.run(w.recoverer({ log: racing }).recover()))._unsafeUnwrap();
    expect(pass.sagas[0]).toMatchObject({ saga: "parcel", outcome: "in_doubt" });
    expect(pass.sagas[0]?.error?.code).toBe(ErrorCode.InDoubt);
    expect(await w.record("p-race")).toMatchObject({
      status: SagaStatus.InDoubt,
      leaseOwner: "console:ops",
      recoveryAttempts: 0,
    });
  });

  it("reports a saga whose write was refused for a stale token as lease_lost, naming the log's refusal", async () => {
    const w = parcelWorld(2);
    await w.pastPivot("p-stale");
    const stale = withOverrides(w.log, {
      write: async (sagaId: string) => {
        throw new SagaLogError("stale_token", sagaId, "The fencing token 2 is stale.");
      },
    });
    const pass = (
      await w.clock.run(w.recoverer({ log: stale, sagas: [w.define(1)] }).recover())
    )._unsafeUnwrap();
    expect(pass.sagas).toHaveLength(1);
    const [saga] = pass.sagas;
    expect(saga).toMatchObject({ sagaId: "p-stale", saga: undefined, outcome: "lease_lost" });
    expect(saga?.error).toMatchObject({
      code: ErrorCode.LogFailed,
      sagaId: "p-stale",
      message: 'Recovering saga "p-stale" failed: The fencing token 2 is stale..',
    });
    expect((await w.record("p-stale"))?.recoveryAttempts).toBe(0);
  });

  it("reports as failed a saga whose attempt the log refused to count, changing nothing", async () => {
    const w = parcelWorld();
    await w.pivotUnknown("p-count");
    const refusing = withOverrides(w.log, {
      write: async (sagaId: string, token: number, change: SagaChange) => {
        if (change.recovery !== undefined) {
          throw new SagaLogError("io", sagaId, "The log's disk refused the write.");
        }
        return w.log.write(sagaId, token, change);
      },
    });
    const pass = (await w.clock.run(w.recoverer({ log: refusing }).recover()))._unsafeUnwrap();
    expect(pass.sagas).toEqual([
      {
        sagaId: "p-count",
        saga: undefined,
        outcome: "failed",
        error: expect.objectContaining({
          code: ErrorCode.LogFailed,
          message: 'Recovering saga "p-count" failed: The log\'s disk refused the write..',
        }),
      },
    ]);
    expect((await w.record("p-count"))?.recoveryAttempts).toBe(0);
  });

  it("counts a drive whose log read threw as a failed attempt, with what the log still says of the saga", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-io");
    let failLoads = 1;
    const flaky = withOverrides(w.log, {
      load: async (sagaId: string) => {
        if (failLoads-- > 0) throw new Error("the log did not answer");
        return w.log.load(sagaId);
      },
    });
    const pass = (await w.clock.run(w.recoverer({ log: flaky }).recover()))._unsafeUnwrap();
    expect(pass.sagas).toEqual([
      {
        sagaId: "p-io",
        saga: "parcel",
        outcome: "failed",
        report: {
          sagaId: "p-io",
          saga: "parcel",
          status: SagaStatus.Running,
          steps: [],
          outputs: {},
        },
        error: expect.objectContaining({
          code: ErrorCode.LogFailed,
          sagaId: "p-io",
          message: 'Recovering saga "p-io" failed: the log did not answer.',
        }),
      },
    ]);
    expect((await w.record("p-io"))?.recoveryAttempts).toBe(1);
  });

  it("gives up on a saga in doubt whose drives keep throwing as in_doubt_exhausted, on the saga as a whole", async () => {
    const w = parcelWorld();
    await w.pivotUnknown("p-doubt");
    // A first pass parks it in doubt; the probe cannot tell.
    const recoverer = w.recoverer({ maxAttempts: 2 });
    expect((await w.clock.run(recoverer.recover()))._unsafeUnwrap().sagas[0]?.outcome).toBe(
      "in_doubt",
    );
    expect(await w.record("p-doubt")).toMatchObject({
      status: SagaStatus.InDoubt,
      recoveryAttempts: 1,
    });
    w.clock.advance(10_000);
    let failLoads = 1;
    const flaky = withOverrides(w.log, {
      load: async (sagaId: string) => {
        if (failLoads-- > 0) throw new Error("the log did not answer");
        return w.log.load(sagaId);
      },
    });
    const pass = (
      await w.clock.run(w.recoverer({ log: flaky, maxAttempts: 2 }).recover())
    )._unsafeUnwrap();
    const message =
      'Recovery gave up after 2 attempts: Recovering saga "p-doubt" failed: the log did not answer.';
    expect(pass.sagas[0]).toMatchObject({ saga: "parcel", outcome: "needs_attention" });
    expect(pass.sagas[0]?.error).toMatchObject({
      code: ErrorCode.NeedsAttention,
      step: "",
      reason: AttentionReason.InDoubtExhausted,
      message,
    });
    expect((await w.record("p-doubt"))?.attention).toEqual({
      reason: AttentionReason.InDoubtExhausted,
      step: "",
      message,
    });
  });

  it("quarantines a saga whose record the log cannot read, naming the whole record when no field is known", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-corrupt");
    const corrupt = withOverrides(w.log, {
      load: async (sagaId: string) => {
        throw new SagaLogError("corrupt", sagaId, "The record is not JSON.");
      },
    });
    const pass = (await w.clock.run(w.recoverer({ log: corrupt }).recover()))._unsafeUnwrap();
    expect(pass.sagas[0]).toMatchObject({
      sagaId: "p-corrupt",
      saga: undefined,
      outcome: "quarantined",
      error: {
        code: ErrorCode.RecordCorrupt,
        field: "(record)",
        message:
          'Saga "p-corrupt" has an invalid log record at `(record)`; it was quarantined and recovery left it alone. The record is not JSON.',
      },
    });
    expect((await w.record("p-corrupt"))?.status).toBe("quarantined");
  });

  it("names a bad maxAttempts", () => {
    const w = parcelWorld();
    expect(() => w.recoverer({ maxAttempts: 0 })).toThrow(LockstepDefinitionError);
    expect(() => w.recoverer({ maxAttempts: 0 })).toThrow(
      "Expected `maxAttempts` to be an integer >= 1, got `0` (number).",
    );
  });
});

describe("Recoverer.recoverSaga", () => {
  it("writes no operator entry when no operator asked", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-one");
    const done = (await w.clock.run(w.recoverer().recoverSaga("p-one")))._unsafeUnwrap();
    expect(done).toMatchObject({ sagaId: "p-one", outcome: "completed" });
    const entries = (await w.log.load("p-one"))?.entries ?? [];
    expect(entries.map((e) => e.type)).not.toContain("operator");
    expect(w.store.snapshot()["notify:p-one"]?.value).toEqual({ sent: true });
  });

  it("answers a log that fails to lease the saga with a log_failed error naming the saga", async () => {
    const w = parcelWorld();
    await w.pastPivot("p-down");
    const down = withOverrides(w.log, {
      acquireLease: async () => {
        throw new Error("connection refused");
      },
    });
    const result = await w.clock.run(w.recoverer({ log: down }).recoverSaga("p-down"));
    expect(result.isErr()).toBe(true);
    expect(result._unsafeUnwrapErr()).toMatchObject({
      code: ErrorCode.LogFailed,
      sagaId: "p-down",
      message: 'Saga "p-down" could not be claimed for recovery: connection refused.',
    });
    expect((await w.record("p-down"))?.status).toBe(SagaStatus.Running);
  });
});
