import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createMemoryStore } from "../../src/adapters/memory/index.js";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../src/adapters/sqlite/index.js";
import {
  createRecoverer,
  createRunner,
  defineSaga,
  ErrorCode,
  explain,
  LockstepDefinitionError,
  MemorySagaLog,
} from "../../src/index.js";

/**
 * What a runner refuses before writing anything (a bad saga id, an invalid or unstorable input, a
 * bad owner), the messages it says so in, and what its event listener and logger see.
 */

const store = createMemoryStore({ id: "things", tier: "plain" });
const order = defineSaga("order", {
  input: z.object({ customer: z.object({ name: z.string() }), qty: z.number() }),
})
  .step("place", {
    store,
    kind: "retriable",
    idempotent: true,
    output: z.object({ placed: z.boolean() }),
    execute: () => ({ placed: true }),
  })
  .build();
const anything = defineSaga("anything", { input: z.any() })
  .step("place", {
    store,
    kind: "retriable",
    idempotent: true,
    output: z.object({ placed: z.boolean() }),
    execute: () => ({ placed: true }),
  })
  .build();
const INPUT = { customer: { name: "ada" }, qty: 1 };

describe("a run's saga id", () => {
  it.each([
    ["empty", "", '`""` (string)'],
    ["201 characters long", "x".repeat(201), `\`"${"x".repeat(56)}...\` (string)`],
    ["not a string", 42, "`42` (number)"],
  ])("is refused when %s, before anything is written", async (_what, sagaId, shown) => {
    const log = new MemorySagaLog();
    const execute = vi.fn(() => ({ placed: true }));
    const saga = defineSaga("order", { input: z.object({}) })
      .step("place", { store, kind: "retriable", idempotent: true, output: z.any(), execute })
      .build();
    const result = await createRunner({ log }).run(saga, {}, { sagaId: sagaId as string });
    const error = result._unsafeUnwrapErr();
    expect(error).toMatchObject({ code: ErrorCode.InvalidOptions, option: "sagaId" });
    expect(error.message).toBe(
      `Expected \`sagaId\` to be a non-empty string of at most 200 characters, got ${shown}.`,
    );
    expect(execute).not.toHaveBeenCalled();
    expect(await log.list()).toEqual([]);
  });

  it("may be 200 characters long", async () => {
    const sagaId = "s".repeat(200);
    const report = (await createRunner().run(order, INPUT, { sagaId }))._unsafeUnwrap();
    expect(report.sagaId).toBe(sagaId);
    expect(report.status).toBe("completed");
  });
});

describe("an invalid input", () => {
  it("is named at its dotted path", async () => {
    const error = (
      await createRunner().run(order, { customer: { name: 7 }, qty: 1 } as never)
    )._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidInput);
    if (error.code !== ErrorCode.InvalidInput) return;
    expect(error.issues).toEqual([{ path: "customer.name", message: expect.any(String) }]);
    expect(error.message).toMatch(
      /^The input of saga "order" is invalid at `customer\.name`: .+\. Nothing was written\.$/,
    );
  });

  it("names every place it is wrong in, separated by semicolons", async () => {
    const error = (
      await createRunner().run(order, { customer: {}, qty: "one" } as never)
    )._unsafeUnwrapErr();
    if (error.code !== ErrorCode.InvalidInput) throw new Error(error.message);
    const [first, second] = error.issues;
    expect(error.message).toBe(
      `The input of saga "order" is invalid in 2 places: \`customer.name\`: ${first?.message}; \`qty\`: ${second?.message}. Nothing was written.`,
    );
  });

  it("wrong as a whole is named at the root", async () => {
    const error = (await createRunner().run(order, "no" as never))._unsafeUnwrapErr();
    if (error.code !== ErrorCode.InvalidInput) throw new Error(error.message);
    expect(error.issues).toEqual([{ path: "", message: expect.any(String) }]);
    expect(error.message).toContain("is invalid at `(root)`: ");
  });

  it("that cannot be stored as JSON is refused before anything is written", async () => {
    const log = new MemorySagaLog();
    const input: Record<string, unknown> = { id: 1 };
    input.self = input;
    const error = (await createRunner({ log }).run(anything, input))._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.InvalidInput);
    if (error.code !== ErrorCode.InvalidInput) return;
    expect(error.saga).toBe("anything");
    expect(error.issues).toHaveLength(1);
    const [issue] = error.issues;
    expect(issue?.path).toBe("");
    expect(issue?.message).toMatch(/circular/i);
    expect(error.message).toBe(
      `The input of saga "anything" cannot be stored as JSON (${issue?.message}). Nothing was written.`,
    );
    expect(await log.list()).toEqual([]);
  });
});

describe("a runner's options", () => {
  it("name a bad owner", () => {
    expect(() => createRunner({ owner: " night-shift" })).toThrowError(
      new LockstepDefinitionError(
        'Expected `owner` to be a non-empty string without leading or trailing spaces, got `" night-shift"` (string).',
      ),
    );
  });

  it.each([
    ["null", null, "`null` (null)"],
    ["undefined", undefined, "`undefined` (undefined)"],
    ["a string", "runner", '`"runner"` (string)'],
    ["an object", {}, "`[object Object]` (object)"],
  ])("are refused as a recoverer's runner when the runner is %s", (_what, runner, shown) => {
    const expected = new LockstepDefinitionError(
      `Expected \`runner\` to be a runner made by createRunner, got ${shown}.`,
    );
    expect(() => createRecoverer({ runner: runner as never, sagas: [order] })).toThrowError(
      expected,
    );
    if (runner !== undefined) {
      expect(() => explain(order, { runner: runner as never })).toThrowError(expected);
    }
  });
});

describe("a strict runner on a log that co-commits", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("runs a step without a probe that commits with its log record: its plan has no gap", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-strict-co-"));
    dirs.push(dir);
    const db = openSqlite(join(dir, "app.db"));
    try {
      const shared = sqliteStore(db);
      const saga = defineSaga("co-committed", { input: z.object({}) })
        .step("record", {
          store: shared,
          kind: "retriable",
          output: z.object({ ok: z.boolean() }),
          execute: async () => ({ ok: true }),
        })
        .build();
      const log = sqliteSagaLog(db);
      expect(() => createRunner({ strict: true }).run(saga, {})).toThrowError(/no probe/);
      const result = await createRunner({ log, strict: true }).run(saga, {});
      if (result.isErr()) throw new Error(result.error.message);
      const report = result.value;
      expect(report.status).toBe("completed");
      expect(report.steps[0]?.strategy).toBe("co_committed");
    } finally {
      db.close();
    }
  });
});

describe("a runner's listener and logger", () => {
  it("a runner with a logger and no listener logs nothing about listeners", async () => {
    const logger = { error: vi.fn(), warn: vi.fn(), debug: vi.fn() };
    const report = (await createRunner({ logger }).run(order, INPUT))._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(logger.error).not.toHaveBeenCalled();
  });

  it("a listener that throws is logged with the saga's id, and the saga still completes", async () => {
    const logger = { error: vi.fn(), warn: vi.fn(), debug: vi.fn() };
    const onEvent = () => {
      throw new Error("listener broke");
    };
    const report = (
      await createRunner({ logger, onEvent }).run(order, INPUT, { sagaId: "s-9" })
    )._unsafeUnwrap();
    expect(report.status).toBe("completed");
    expect(logger.error).toHaveBeenCalledWith(
      { sagaId: "s-9", error: "listener broke" },
      "lockstep: an event listener threw",
    );
  });

  it("a listener that throws without a logger does not stop the saga", async () => {
    const onEvent = () => {
      throw new Error("listener broke");
    };
    const report = (await createRunner({ onEvent }).run(order, INPUT))._unsafeUnwrap();
    expect(report.status).toBe("completed");
  });
});
