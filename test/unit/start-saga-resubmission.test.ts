import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  AttentionReason,
  committed,
  createRunner,
  defineSaga,
  ErrorCode,
  MemorySagaLog,
  notCommitted,
  type SagaEvent,
  type SagaLog,
  SagaLogError,
  SagaStatus,
  StoreError,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { type TempDatabase, tempDatabase } from "../adapters/sqlite/temp-database.js";

const TTL = 1_000;

/** `inner`, with the methods in `overrides` answering in its place. */
function intercept(inner: SagaLog, overrides: Partial<Record<keyof SagaLog, unknown>>): SagaLog {
  return new Proxy(inner, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof SagaLog];
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * charge (the pivot) then notify (retriable, one attempt): while `notices.down`, notify fails and
 * the saga stops incomplete, its lease released, waiting for a resubmission or recovery.
 */
function world(options: { version?: number; chargeOutput?: z.ZodType } = {}) {
  const store = createMemoryStore({ id: "shop", tier: "plain" });
  const notices = { down: false, sent: 0, charged: 0 };
  const saga = defineSaga("order", {
    input: z.object({ id: z.string() }),
    ...(options.version === undefined ? {} : { version: options.version }),
  })
    .step("charge", {
      store,
      kind: "pivot",
      output: options.chargeOutput ?? z.object({ charge: z.string() }),
      execute: async ({ input, handle }) => {
        notices.charged++;
        await handle.put(`charge:${input.id}`, 1);
        return { charge: `c-${input.id}` };
      },
      probe: async ({ input, handle }) =>
        (await handle.get(`charge:${input.id}`)) === undefined
          ? notCommitted()
          : committed({ charge: `c-${input.id}` }),
    })
    .step("notify", {
      store,
      kind: "retriable",
      output: z.null(),
      retry: { attempts: 1 },
      execute: async () => {
        if (notices.down) throw new StoreError("transient", "the mailer is down");
        notices.sent++;
        return null;
      },
    })
    .build();
  return { store, notices, saga };
}

/** A saga "s-1" left incomplete in `log` by a run whose last step failed. */
async function incomplete(log: SagaLog, w = world()) {
  w.notices.down = true;
  const first = await createRunner({ log, owner: "runner-a" }).run(
    w.saga,
    { id: "o-1" },
    { sagaId: "s-1" },
  );
  expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.Incomplete);
  w.notices.down = false;
  return w;
}

function failure(error: unknown) {
  return error as { code: string; message: string; cause?: unknown; field?: string };
}

describe("starting a saga when the log cannot record it", () => {
  it("a create the log refuses runs nothing and says why", async () => {
    const inner = new MemorySagaLog();
    const disk = new Error("disk full");
    const log = intercept(inner, { create: () => Promise.reject(disk) });
    const { saga, notices } = world();
    const error = failure(
      (await createRunner({ log }).run(saga, { id: "o-1" }, { sagaId: "s-1" }))._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe(
      'The saga log could not record saga "s-1" (disk full); nothing was run.',
    );
    expect(error.cause).toBe(disk);
    expect(notices.charged).toBe(0);
    expect(await inner.load("s-1")).toBeUndefined();
  });

  it("a create that never answers times out, and nothing is run", async () => {
    const clock = new VirtualClock();
    const log = intercept(new MemorySagaLog(), { create: () => new Promise(() => {}) });
    const { saga, notices } = world();
    const runner = createRunner({ log, clock, timeoutMs: 500 });
    const error = failure(
      (await clock.run(runner.run(saga, { id: "o-1" }, { sagaId: "s-1" })))._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe(
      'The saga log could not record saga "s-1" (The saga log did not answer within 500 ms.); nothing was run.',
    );
    expect(SagaLogError.is(error.cause) && error.cause.reason).toBe("io");
    expect(notices.charged).toBe(0);
  });
});

describe("resubmitting a saga id that exists", () => {
  it("with other input is refused, and nothing is run", async () => {
    const log = new MemorySagaLog();
    const w = await incomplete(log);
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-2" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.SagaExists);
    expect(error.message).toBe(
      'A saga with id "s-1" already exists with different input; nothing was run.',
    );
    expect(w.notices.sent).toBe(0);
  });

  it("of another definition is refused, naming the one recorded", async () => {
    const log = new MemorySagaLog();
    const w = await incomplete(log);
    const other = world({ version: 2 });
    const error = failure(
      (
        await createRunner({ log }).run(other.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.SagaExists);
    expect(error.message).toBe(
      'A saga with id "s-1" already exists with another definition (order v1); nothing was run.',
    );
    expect(w.notices.sent + other.notices.sent).toBe(0);
  });

  it("whose record the log reports invalid is refused as corrupt, naming the field", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    for (const [field, named] of [
      ["status", "status"],
      [undefined, "(record)"],
    ] as const) {
      const log = intercept(inner, {
        load: (id: string) =>
          Promise.reject(
            new SagaLogError("corrupt", id, "the record is not JSON", {
              ...(field === undefined ? {} : { field }),
            }),
          ),
      });
      const error = failure(
        (
          await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
        )._unsafeUnwrapErr(),
      );
      expect(error.code).toBe(ErrorCode.RecordCorrupt);
      expect(error.message).toBe(
        'Saga "s-1" exists but its log record is invalid: the record is not JSON',
      );
      expect(error.field).toBe(named);
    }
    expect(w.notices.sent).toBe(0);
  });

  it("whose record cannot be read fails as a log failure", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const down = new SagaLogError("io", "s-1", "connection reset");
    const log = intercept(inner, { load: () => Promise.reject(down) });
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe('The saga log could not read saga "s-1": connection reset.');
    expect(error.cause).toBe(down);
  });

  it("whose record is gone when read back fails as a log failure", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const log = intercept(inner, { load: async () => undefined });
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe('Saga "s-1" vanished from the log while being resubmitted.');
    expect(w.notices.sent).toBe(0);
  });

  it("whose lease the log cannot give fails as a log failure", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const log = intercept(inner, {
      acquireLease: () => Promise.reject(new Error("lock wait timeout")),
    });
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe(
      'The saga log could not lease saga "s-1" to resume it: lock wait timeout.',
    );
    expect(w.notices.sent).toBe(0);
  });

  it("that cannot be read again once leased fails as a log failure, and runs nothing", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    let loads = 0;
    const log = intercept(inner, {
      load: (id: string) =>
        ++loads === 1 ? inner.load(id) : Promise.reject(new Error("replica lag")),
    });
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.LogFailed);
    expect(error.message).toBe('The saga log could not read saga "s-1": replica lag.');
    expect(w.notices.sent).toBe(0);
  });

  it("whose lease another runner took meanwhile is refused, naming that runner", async () => {
    const clock = new VirtualClock();
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    // Between this run's lease and its read, the lease lapses and another runner takes it.
    const log = intercept(inner, {
      acquireLease: async (id: string, owner: string, ttl: number, now: number) => {
        const token = await inner.acquireLease(id, owner, ttl, now);
        await inner.acquireLease(id, "runner-b", ttl, now + ttl);
        return token;
      },
    });
    const runner = createRunner({ log, clock, leaseTtlMs: TTL });
    const error = failure(
      (await clock.run(runner.run(w.saga, { id: "o-1" }, { sagaId: "s-1" })))._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.SagaExists);
    expect(error.message).toBe(
      'Saga "s-1" is being run by runner-b right now; try again after its lease (1000 ms) lapses.',
    );
    expect(w.notices.sent).toBe(0);
    expect((await inner.load("s-1"))?.record.leaseOwner).toBe("runner-b");
  });

  it("whose lease is refused with no owner recorded is refused, naming another runner", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const log = intercept(inner, { acquireLease: async () => undefined });
    const error = failure(
      (
        await createRunner({ log, leaseTtlMs: TTL }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.SagaExists);
    expect(error.message).toBe(
      'Saga "s-1" is being run by another runner right now; try again after its lease (1000 ms) lapses.',
    );
    expect(w.notices.sent).toBe(0);
  });

  it("quarantined while this run took its lease returns that outcome and lets the lease go", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const log = intercept(inner, {
      acquireLease: async (id: string, owner: string, ttl: number, now: number) => {
        const token = await inner.acquireLease(id, owner, ttl, now);
        await inner.quarantine(id, { field: "entries.1", message: "unreadable" }, now);
        return token;
      },
    });
    const error = failure(
      (
        await createRunner({ log, owner: "runner-c" }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    );
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(error.message).toBe(
      'Saga "s-1" needs attention at step "": Quarantined at `entries.1`: unreadable',
    );
    expect(w.notices.sent).toBe(0);
    const record = (await inner.load("s-1"))?.record;
    expect(record?.status).toBe(SagaStatus.Quarantined);
    expect(record?.leaseOwner).toBeNull();
  });

  it("that ended needing attention returns that outcome, naming the step and why", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const snapshot = await inner.load("s-1");
    const attention = { reason: AttentionReason.InvalidOutput, step: "notify", message: "bad" };
    const recorded = {
      ...snapshot,
      record: { ...snapshot?.record, status: SagaStatus.NeedsAttention, attention },
    };
    const log = intercept(inner, { load: async () => recorded });
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    ) as ReturnType<typeof failure> & { step?: string; reason?: string };
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(error.message).toBe('Saga "s-1" needs attention at step "notify": bad');
    expect(error.step).toBe("notify");
    expect(error.reason).toBe(AttentionReason.InvalidOutput);
  });

  it("quarantined without a recorded reason returns that it is quarantined", async () => {
    const inner = new MemorySagaLog();
    const w = await incomplete(inner);
    const snapshot = await inner.load("s-1");
    const recorded = {
      ...snapshot,
      record: { ...snapshot?.record, status: SagaStatus.Quarantined, attention: null },
    };
    const log = intercept(inner, { load: async () => recorded });
    const error = failure(
      (
        await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" })
      )._unsafeUnwrapErr(),
    ) as ReturnType<typeof failure> & { step?: string; reason?: string };
    expect(error.code).toBe(ErrorCode.NeedsAttention);
    expect(error.message).toBe('Saga "s-1" needs attention at step "": the saga is quarantined');
    expect(error.step).toBe("");
    expect(error.reason).toBe(AttentionReason.CorruptRecord);
  });

  for (const quarantineFails of [false, true]) {
    it(`whose logged output the saga's schema no longer accepts is ${quarantineFails ? "refused even when quarantining fails" : "quarantined"}, and nothing is run`, async () => {
      const inner = new MemorySagaLog();
      const w = await incomplete(inner);
      // The same definition, deployed with another output schema for the step that committed.
      const changed = world({ chargeOutput: z.object({ charge: z.number() }) });
      const log = quarantineFails
        ? intercept(inner, { quarantine: () => Promise.reject(new Error("read-only replica")) })
        : inner;
      const error = failure(
        (
          await createRunner({ log, owner: "runner-c" }).run(
            changed.saga,
            { id: "o-1" },
            { sagaId: "s-1" },
          )
        )._unsafeUnwrapErr(),
      );
      expect(error.code).toBe(ErrorCode.RecordCorrupt);
      const done = quarantineFails
        ? "quarantining it failed too (read-only replica)"
        : "it was quarantined";
      expect(error.message).toBe(
        `Saga "s-1" has an invalid log record at \`entries.2.output\`; ${done} and nothing was run. The output logged for step "charge" at \`entries.2.output\` fails the step's schema (\`charge\`: Invalid input: expected number, received string).`,
      );
      expect(error.field).toBe("entries.2.output");
      expect(changed.notices.sent + w.notices.sent).toBe(0);
      const record = (await inner.load("s-1"))?.record;
      expect(record?.status).toBe(quarantineFails ? SagaStatus.Running : SagaStatus.Quarantined);
      expect(record?.leaseOwner).toBeNull();
    });
  }

  it("of a saga that completed returns its outcome again and tells listeners nothing", async () => {
    const log = new MemorySagaLog();
    const w = world();
    const first = await createRunner({ log }).run(w.saga, { id: "o-1" }, { sagaId: "s-1" });
    expect(first.isOk()).toBe(true);
    const events: SagaEvent[] = [];
    const again = await createRunner({ log, onEvent: (e) => events.push(e) }).run(
      w.saga,
      { id: "o-1" },
      { sagaId: "s-1" },
    );
    expect(again._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(events).toEqual([]);
    expect(w.notices.charged).toBe(1);
  });
});

describe("a saga whose first step co-commits with the log, run again with its id", () => {
  let temp: TempDatabase | undefined;
  afterEach(() => temp?.remove());

  /** place (the pivot, co-committed on SQLite; `bad` makes its output invalid), then notify. */
  async function sqliteWorld() {
    temp = tempDatabase();
    const store = sqliteStore(temp.db, { id: "orders-db" });
    const log = sqliteSagaLog(temp.db, { store });
    await store.handle.run("CREATE TABLE orders (id TEXT NOT NULL)");
    const mailer = createMemoryStore({ id: "mailer", tier: "plain" });
    const owners: (string | null | undefined)[] = [];
    const saga = defineSaga("checkout", { input: z.object({ id: z.string(), bad: z.boolean() }) })
      .step("place", {
        store,
        kind: "pivot",
        output: z.object({ row: z.string() }),
        execute: async ({ input, handle }) => {
          await handle.run("INSERT INTO orders (id) VALUES (?)", [input.id]);
          // An output of the wrong shape, as a step might return at run time.
          return (input.bad ? { row: 7 } : { row: input.id }) as { row: string };
        },
        probe: async () => notCommitted(),
      })
      .step("notify", {
        store: mailer,
        kind: "retriable",
        output: z.null(),
        execute: async ({ sagaId }) => {
          owners.push((await log.load(sagaId))?.record.leaseOwner);
          return null;
        },
      })
      .build();
    const rows = async () =>
      (await store.handle.all<{ id: string }>("SELECT id FROM orders")).map((r) => r.id);
    return { log, saga, owners, rows };
  }

  const seen = (events: SagaEvent[]) =>
    events.map((e) => {
      const { type, status, reason } = e as { type: string; status?: string; reason?: string };
      return [type, status, reason].filter((x) => x !== undefined);
    });

  it("records the creating run as the lease owner, under its runner's name", async () => {
    const { log, saga, owners } = await sqliteWorld();
    const result = await createRunner({ log, owner: "runner-a" }).run(
      saga,
      { id: "o-1", bad: false },
      { sagaId: "s-1" },
    );
    expect(result._unsafeUnwrap().steps[0]?.strategy).toBe("co_committed");
    expect(owners).toHaveLength(1);
    expect(owners[0]).toMatch(/^runner-a\/.+/);
  });

  it("after it completed: the run, which announced itself, ends on the recorded status", async () => {
    const { log, saga, rows } = await sqliteWorld();
    const input = { id: "o-1", bad: false };
    expect((await createRunner({ log }).run(saga, input, { sagaId: "s-1" })).isOk()).toBe(true);
    const events: SagaEvent[] = [];
    const again = await createRunner({ log, onEvent: (e) => events.push(e) }).run(saga, input, {
      sagaId: "s-1",
    });
    expect(again._unsafeUnwrap().status).toBe(SagaStatus.Completed);
    expect(await rows()).toEqual(["o-1"]);
    // Its step ran in a transaction that rolled back when the saga's record was found there.
    expect(seen(events)).toEqual([
      ["saga.started"],
      ["step.started"],
      ["saga.status", SagaStatus.Completed],
    ]);
    const status = events.find((e) => e.type === "saga.status");
    expect(status !== undefined && Object.hasOwn(status, "reason")).toBe(false);
  });

  it("after it stopped needing attention: the run ends on that status, with its reason", async () => {
    const { log, saga, rows } = await sqliteWorld();
    const input = { id: "o-1", bad: true };
    const first = await createRunner({ log }).run(saga, input, { sagaId: "s-1" });
    expect(first._unsafeUnwrapErr().code).toBe(ErrorCode.NeedsAttention);
    const events: SagaEvent[] = [];
    const again = failure(
      (
        await createRunner({ log, onEvent: (e) => events.push(e) }).run(saga, input, {
          sagaId: "s-1",
        })
      )._unsafeUnwrapErr(),
    );
    expect(again.code).toBe(ErrorCode.NeedsAttention);
    expect(again.message).toMatch(/^Saga "s-1" needs attention at step "place": /);
    expect(await rows()).toEqual([]);
    expect(seen(events)).toEqual([
      ["saga.started"],
      ["step.started"],
      ["saga.status", SagaStatus.NeedsAttention, AttentionReason.InvalidOutput],
    ]);
  });
});
