import { describe, expect, it } from "vitest";
import {
  AttentionReason,
  MemorySagaLog,
  markForRetry,
  type NewStepEntry,
  retryStatus,
  type SagaLog,
  SagaLogError,
  type SagaSnapshot,
  SagaStatus,
  SCHEMA_VERSION,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { committedEntry, intent } from "../observability/support/crash.js";
import { orderWorld } from "../observability/support/order-world.js";

const who = { actor: "ops@example.com", action: "retry", note: "refunded by hand" };

/** `log`, with the methods in `overrides` answering instead. */
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

interface Seed {
  status?: SagaStatus;
  leaseOwner?: string | null;
  leaseExpiresAt?: number | null;
  recoveryAttempts?: number;
  nextRecoveryAt?: number;
  reason?: AttentionReason;
  entries?: readonly NewStepEntry[];
}

/** A saga of the order world as the log holds it, needing attention unless `seed` says otherwise. */
async function seed(log: SagaLog, clock: VirtualClock, sagaId: string, seed: Seed = {}) {
  const at = clock.now() - 100_000;
  const status = seed.status ?? SagaStatus.NeedsAttention;
  await log.create({
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: orderWorld().saga.definition as never,
    input: { id: sagaId },
    status,
    attention:
      status === SagaStatus.NeedsAttention
        ? { reason: seed.reason ?? AttentionReason.ForwardFailed, step: "hold", message: "stuck" }
        : null,
    fencingToken: 1,
    leaseOwner: seed.leaseOwner ?? null,
    leaseExpiresAt: seed.leaseExpiresAt ?? null,
    recoveryAttempts: seed.recoveryAttempts ?? 0,
    nextRecoveryAt: seed.nextRecoveryAt ?? 0,
    createdAt: at,
    updatedAt: at,
  });
  await log.write(sagaId, 1, { entries: seed.entries ?? [intent("hold", 1, at)], now: at });
}

const held = (at: number): NewStepEntry[] => [
  intent("hold", 1, at),
  committedEntry("hold", { version: 1 }, at + 1),
];

describe("markForRetry's record", () => {
  it("frees a lapsed lease, resets the attempts and makes the saga due at once", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "m-1", {
      leaseOwner: "runner-that-died",
      leaseExpiresAt: clock.now() - 1,
      recoveryAttempts: 7,
      nextRecoveryAt: clock.now() + 3_600_000,
    });
    const marking = await markForRetry(log, "m-1", who, clock);
    expect(marking).toEqual({ marked: true, status: SagaStatus.Running, token: 2 });
    expect((await log.load("m-1"))?.record).toMatchObject({
      status: SagaStatus.Running,
      attention: null,
      fencingToken: 2,
      leaseOwner: null,
      recoveryAttempts: 0,
      nextRecoveryAt: clock.now(),
    });
  });

  it("takes a lease that expires at this very moment as lapsed", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "m-now", { leaseOwner: "runner-x", leaseExpiresAt: clock.now() });
    expect(await markForRetry(log, "m-now", who, clock)).toMatchObject({ marked: true });
    expect((await log.load("m-now"))?.record.leaseOwner).toBeNull();
  });

  it("takes an expiry with no owner as no lease", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "m-free");
    const snapshot = (await log.load("m-free")) as SagaSnapshot;
    const ownerless = withOverrides(log, {
      load: async () => ({
        ...snapshot,
        record: { ...snapshot.record, leaseOwner: null, leaseExpiresAt: clock.now() + 60_000 },
      }),
    });
    expect(await markForRetry(ownerless, "m-free", who, clock)).toMatchObject({ marked: true });
  });

  it("refuses a saga whose lease a runner holds, saying whose and until when", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    const until = clock.now() + 60_000;
    await seed(log, clock, "m-held", { leaseOwner: "runner-x", leaseExpiresAt: until });
    const before = JSON.stringify(await log.load("m-held"));
    expect(await markForRetry(log, "m-held", who, clock)).toEqual({
      marked: false,
      reason: "lease_held",
      message: `Saga "m-held" is leased to "runner-x" until ${new Date(until).toISOString()}; nothing was changed.`,
    });
    expect(JSON.stringify(await log.load("m-held"))).toBe(before);
  });

  it("says what a saga that needs no attention is instead", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "m-run", { status: SagaStatus.Running });
    expect(await markForRetry(log, "m-run", who, clock)).toEqual({
      marked: false,
      reason: "not_needs_attention",
      message:
        'Saga "m-run" is running, not needs_attention; only a saga waiting for a person can be marked for retry.',
    });
  });

  it("says which saga it did not find", async () => {
    expect(await markForRetry(new MemorySagaLog(), "01NONE", who)).toEqual({
      marked: false,
      reason: "not_found",
      message: 'No saga with id "01NONE" is in the log.',
    });
  });

  it("refuses, as changed, a saga whose status moved on under the same token since it was read", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "m-moved", { status: SagaStatus.Running });
    const current = (await log.load("m-moved")) as SagaSnapshot;
    // What a reader saw a moment before: the saga still needed attention.
    const earlier = withOverrides(log, {
      load: async () => ({
        ...current,
        record: {
          ...current.record,
          status: SagaStatus.NeedsAttention,
          attention: { reason: AttentionReason.ForwardFailed, step: "hold", message: "stuck" },
        },
      }),
    });
    const marking = await markForRetry(earlier, "m-moved", who, clock);
    expect(marking).toEqual({
      marked: false,
      reason: "changed",
      message:
        'Saga "m-moved" changed while it was being marked (Saga "m-moved" is running, not needs_attention; the write was refused.); nothing was changed.',
    });
    const after = await log.load("m-moved");
    expect(after?.record.fencingToken).toBe(1);
    expect(after?.entries.some((e) => e.type === "operator")).toBe(false);
  });

  it("passes on a log failure that is not a concurrent change", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "m-io");
    const io = new SagaLogError("io", "m-io", "The log's disk refused the write.");
    const failing = withOverrides(log, {
      write: async () => {
        throw io;
      },
    });
    await expect(markForRetry(failing, "m-io", who, clock)).rejects.toBe(io);
    const broken = new Error("connection reset");
    const down = withOverrides(log, {
      write: async () => {
        throw broken;
      },
    });
    await expect(markForRetry(down, "m-io", who, clock)).rejects.toBe(broken);
  });
});

describe("retryStatus", () => {
  it("sends a saga back compensating once any one kind of undo entry was logged", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    const at = clock.now() - 50_000;
    const undo: Record<string, NewStepEntry> = {
      compensation_intent: { step: "hold", type: "compensation_intent", attempt: 1, at },
      compensated: { step: "hold", type: "compensated", attempt: 1, at },
      compensation_skipped: { step: "hold", type: "compensation_skipped", attempt: 1, at },
      compensation_failed: {
        step: "hold",
        type: "compensation_failed",
        attempt: 1,
        at,
        error: { kind: "transient", message: "the hold service is down" },
      },
      guard_failed: {
        step: "hold",
        type: "guard_failed",
        attempt: 1,
        at,
        error: { kind: "conflict", message: "changed" },
      },
    };
    const statuses: Record<string, unknown> = {};
    for (const [type, entry] of Object.entries(undo)) {
      await seed(log, clock, `u-${type}`, {
        reason: AttentionReason.CompensationFailed,
        entries: [...held(at - 10), entry],
      });
      const marking = await markForRetry(log, `u-${type}`, who, clock);
      statuses[type] = marking.marked ? marking.status : marking.reason;
    }
    expect(statuses).toEqual({
      compensation_intent: "compensating",
      compensated: "compensating",
      compensation_skipped: "compensating",
      compensation_failed: "compensating",
      guard_failed: "compensating",
    });
    // With only forward entries it goes forward.
    await seed(log, clock, "u-forward", { entries: held(at - 10) });
    expect(await markForRetry(log, "u-forward", who, clock)).toMatchObject({
      status: SagaStatus.Running,
    });
  });

  it("is running for a saga that needs no attention and never began undoing", async () => {
    const clock = new VirtualClock();
    const log = new MemorySagaLog();
    await seed(log, clock, "r-1", { status: SagaStatus.Running });
    expect(retryStatus((await log.load("r-1")) as SagaSnapshot)).toBe(SagaStatus.Running);
  });
});
