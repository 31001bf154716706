import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createMemoryStore, memoryPut } from "../../src/adapters/memory/index.js";
import { classifySqliteError } from "../../src/adapters/sqlite/index.js";
import {
  classifyError,
  compensated,
  createRunner,
  defineSaga,
  ErrorCode,
  ErrorKind,
  isLockstepError,
  type LockstepError,
  lockstepError,
  MemorySagaLog,
  notCommitted,
  runAtomic,
  StoreError,
} from "../../src/index.js";
import { injectFault } from "../support/faults.js";

/** A better-sqlite3 `SqliteError` as the driver throws it: an Error with a SQLite result code. */
function sqliteError(code: string, message: string): Error {
  return Object.assign(new Error(message), { name: "SqliteError", code });
}

/** A lockstep error value as another copy of lockstep, or an adapter, builds it. */
function value(fields: Record<string, unknown>): LockstepError {
  return lockstepError({ message: "m", ...fields } as unknown as LockstepError);
}

/** A saga whose only step (a compensatable hold) commits, then whose pivot is refused. */
function refusedCheckout() {
  const store = createMemoryStore({ tier: "plain" });
  return defineSaga("checkout", { input: z.object({ order: z.string() }) })
    .step("hold", {
      store,
      kind: "compensatable",
      output: z.object({}),
      execute: () => ({}),
      probe: () => notCommitted(),
      compensate: () => compensated(),
    })
    .step("charge", {
      store,
      kind: "pivot",
      output: z.object({}),
      execute: () => {
        throw new StoreError("not_committed", "the card was declined");
      },
      probe: () => notCommitted(),
    })
    .build();
}

describe("a lockstep error value thrown inside a step keeps its outcome", () => {
  it("runAtomic's lost guard stays a conflict, bare or as a cause", async () => {
    const store = createMemoryStore({ tier: "transactional", seed: { "acct:a": { balance: 10 } } });
    const result = await runAtomic(store, [
      { name: "debit a", guarded: true, build: () => memoryPut("acct:a", { balance: 6 }, 7) },
    ]);
    const error = result._unsafeUnwrapErr();
    expect(error.code).toBe(ErrorCode.Conflict);
    expect(isLockstepError(error)).toBe(true);
    expect(classifyError(error)).toBe(ErrorKind.Conflict);
    expect(classifyError(new Error("reserve failed", { cause: error }))).toBe(ErrorKind.Conflict);
  });

  it("runAtomic's failed write keeps the kind it failed with: refused is not committed, a deadline is a timeout", async () => {
    const store = createMemoryStore({ tier: "transactional" });
    injectFault(
      store,
      { phase: "before" },
      { type: "throw", error: new StoreError("not_committed", "refused") },
    );
    const refused = (
      await runAtomic(store, [{ name: "put", build: () => memoryPut("k", 1) }])
    )._unsafeUnwrapErr();
    expect(refused.code).toBe(ErrorCode.WriteFailed);
    expect(classifyError(refused)).toBe(ErrorKind.NotCommitted);
    for (const kind of [ErrorKind.Timeout, ErrorKind.Transient, ErrorKind.Unknown]) {
      expect(classifyError(value({ code: "write_failed", kind }))).toBe(kind);
    }
  });

  it("a write_failed whose kind this copy does not know is unknown, and so is one without a kind", () => {
    // The cause says not committed, but the value decides: a newer lockstep's kind is not proof.
    const cause = new StoreError("not_committed", "refused");
    expect(classifyError(value({ code: "write_failed", kind: "lost_in_space", cause }))).toBe(
      ErrorKind.Unknown,
    );
    expect(classifyError(value({ code: "write_failed", kind: 3 }))).toBe(ErrorKind.Unknown);
    expect(classifyError(value({ code: "write_failed" }))).toBe(ErrorKind.Unknown);
  });

  it("refusals that write nothing are not committed", () => {
    for (const code of [
      "atomicity_unavailable",
      "capability_missing",
      "invalid_options",
      "invalid_input",
      "saga_exists",
    ]) {
      expect(classifyError(value({ code })), code).toBe(ErrorKind.NotCommitted);
    }
  });

  it("a nested saga that failed and was compensated is not committed; the same saga already taken is too", async () => {
    const runner = createRunner({ log: new MemorySagaLog() });
    const saga = refusedCheckout();
    const failed = (await runner.run(saga, { order: "o-1" }, { sagaId: "s-1" }))._unsafeUnwrapErr();
    expect(failed.code).toBe(ErrorCode.StepFailed);
    expect(classifyError(new Error("nested checkout failed", { cause: failed }))).toBe(
      ErrorKind.NotCommitted,
    );
    // Another order under the same saga id: refused before anything runs.
    const taken = (await runner.run(saga, { order: "o-2" }, { sagaId: "s-1" }))._unsafeUnwrapErr();
    expect(taken.code).toBe(ErrorCode.SagaExists);
    expect(classifyError(taken)).toBe(ErrorKind.NotCommitted);
  });

  it("a failed or cancelled saga is not committed only once its report says compensated", () => {
    for (const code of ["step_failed", "cancelled"]) {
      expect(classifyError(value({ code, report: { status: "compensated" } })), code).toBe(
        ErrorKind.NotCommitted,
      );
      for (const status of ["compensating", "needs_attention", "in_doubt"]) {
        expect(classifyError(value({ code, report: { status } })), `${code} ${status}`).toBe(
          ErrorKind.Unknown,
        );
      }
      expect(classifyError(value({ code })), `${code} without a report`).toBe(ErrorKind.Unknown);
    }
  });

  it("any other lockstep error is unknown, whatever its cause or the classifier says", () => {
    const refused = new StoreError("not_committed", "refused");
    const sayNotCommitted = () => ErrorKind.NotCommitted;
    for (const code of ["in_doubt", "needs_attention", "partially_applied", "log_failed"]) {
      expect(classifyError(value({ code, cause: refused })), code).toBe(ErrorKind.Unknown);
      expect(classifyError(value({ code }), sayNotCommitted), code).toBe(ErrorKind.Unknown);
    }
  });

  it("an object that merely looks like one (no brand) is not taken at its word", () => {
    // e.g. an HTTP API's 409 body: its code is not lockstep's.
    expect(classifyError({ code: "conflict", message: "version moved" })).toBe(ErrorKind.Unknown);
    expect(classifyError({ code: "saga_exists", message: "exists" })).toBe(ErrorKind.Unknown);
    const busy = sqliteError("SQLITE_BUSY", "database is locked");
    expect(
      classifyError({ code: "conflict", message: "x", cause: busy }, classifySqliteError),
    ).toBe(ErrorKind.Transient);
  });
});

describe("classifyError follows a cause chain, within bounds", () => {
  /** `root` wrapped `depth` times, each wrapper an Error whose cause is the one inside. */
  function wrapped(root: unknown, depth: number): unknown {
    let error = root;
    for (let i = 0; i < depth; i++) error = new Error(`layer ${i}`, { cause: error });
    return error;
  }

  it("finds a driver error 15 wrappers deep (the 16th link), and gives up on the 17th: unknown", () => {
    const busy = sqliteError("SQLITE_BUSY", "database is locked");
    expect(classifyError(wrapped(busy, 15), classifySqliteError)).toBe(ErrorKind.Transient);
    expect(classifyError(wrapped(busy, 16), classifySqliteError)).toBe(ErrorKind.Unknown);
    const unique = new StoreError("not_committed", "UNIQUE constraint failed");
    expect(classifyError(wrapped(unique, 15))).toBe(ErrorKind.NotCommitted);
    expect(classifyError(wrapped(unique, 16))).toBe(ErrorKind.Unknown);
  });

  it("skips a null cause or member and goes on to the rest", () => {
    const constraint = sqliteError("SQLITE_CONSTRAINT_UNIQUE", "UNIQUE constraint failed");
    expect(classifyError(new Error("insert failed", { cause: null }), classifySqliteError)).toBe(
      ErrorKind.Unknown,
    );
    expect(classifyError(new AggregateError([null, constraint]), classifySqliteError)).toBe(
      ErrorKind.NotCommitted,
    );
  });

  it("never hands a classifier an absent cause, so a classifier written for driver errors works", () => {
    // A Postgres classifier as an application might write it: it reads `code` off what it is given.
    const classifyPg = (error: unknown) =>
      (error as { code: unknown }).code === "23505" ? ErrorKind.NotCommitted : undefined;
    const duplicate = Object.assign(new Error("duplicate key value violates unique constraint"), {
      code: "23505",
      severity: "ERROR",
    });
    expect(classifyError(new Error("insert failed", { cause: undefined }), classifyPg)).toBe(
      ErrorKind.Unknown,
    );
    expect(classifyError(new AggregateError([undefined, null, duplicate]), classifyPg)).toBe(
      ErrorKind.NotCommitted,
    );
  });

  it("ends a cycle that no link resolves as unknown", () => {
    const a = new Error("a") as Error & { cause?: unknown };
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(classifyError(a, classifySqliteError)).toBe(ErrorKind.Unknown);
  });
});

describe("StoreError", () => {
  it("is named StoreError, as stack traces and logs print it", () => {
    const error = new StoreError("conflict", "The bounty moved on: version 3 expected.");
    expect(error.name).toBe("StoreError");
    expect(String(error)).toBe("StoreError: The bounty moved on: version 3 expected.");
    expect(error).toBeInstanceOf(Error);
  });
});
