import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CallScope } from "../../src/core/deadline.js";
import { StoreError } from "../../src/core/error-kinds.js";
import type { StepStore } from "../../src/core/store.js";
import { isProvablyNotApplied } from "../../src/model/error-kind.js";
import { printConformanceCount } from "./report.js";

/**
 * How the transaction suite drives one adapter: a store that declares `transactions`, and small
 * key/value operations expressed in that store's own terms.
 */
export interface TransactionFixture<Handle> {
  readonly store: StepStore<Handle>;
  /** Writes `value` under a new `key` through `handle` (the root handle or a transaction's). */
  insert(handle: Handle, key: string, value: string): Promise<void>;
  /** Reads the value under `key` through `handle`, or `undefined`. */
  read(handle: Handle, key: string): Promise<string | undefined>;
  /** How many keys are committed, read through the root handle. */
  count(): Promise<number>;
  close(): Promise<void>;
}

/** A scope that never times out on its own, with the controller that aborts it. */
export function openScope(): { scope: CallScope; controller: AbortController } {
  const controller = new AbortController();
  return { controller, scope: { signal: controller.signal, deadline: Date.now() + 60_000 } };
}

/** A promise with its resolve function, to pause work at a known point. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Lets every queued callback and timer of this turn run, so a write that could land would have. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The `StoreError` a call failed with; fails the test if it succeeded or threw anything else. */
export async function storeFailure(call: Promise<unknown>): Promise<StoreError> {
  try {
    await call;
  } catch (error) {
    if (StoreError.is(error)) return error;
    throw error;
  }
  throw new Error("Expected the call to fail with a StoreError, but it succeeded.");
}

/** Whether `target` appears in the `.cause` chain of `error`. */
export function causedBy(error: unknown, target: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (current === target) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Registers a `describe` block that holds a store declaring `transactions` to what the core relies
 * on: commit applies everything, a failure or an abort applies nothing and says so, the transaction
 * sees its own writes, and a write through the root handle is never joined to an open transaction.
 */
export function transactionConformance<Handle>(
  name: string,
  factory: () => Promise<TransactionFixture<Handle>>,
): void {
  describe(`transaction conformance: ${name}`, () => {
    printConformanceCount("transactions", name);
    let fixture: TransactionFixture<Handle>;
    let transaction: NonNullable<StepStore<Handle>["transaction"]>;

    beforeEach(async () => {
      fixture = await factory();
      const declared = fixture.store.transaction;
      if (declared === undefined) throw new Error(`${name} has no transaction method.`);
      transaction = declared;
    });

    afterEach(async () => {
      await fixture.close();
    });

    it("declares transactions", () => {
      expect(fixture.store.capabilities.transactions).toBe(true);
      expect(typeof fixture.store.transaction).toBe("function");
    });

    it("commit applies every write and resolves with the work's value", async () => {
      const { scope } = openScope();
      const value = await transaction(async (tx) => {
        await fixture.insert(tx, "a", "1");
        await fixture.insert(tx, "b", "2");
        await fixture.insert(tx, "c", "3");
        return "done";
      }, scope);
      expect(value).toBe("done");
      expect(await fixture.count()).toBe(3);
      expect(await fixture.read(fixture.store.handle, "b")).toBe("2");
    });

    it("a throw rolls back every write and rejects with a not-applied StoreError caused by it", async () => {
      const { scope } = openScope();
      const boom = new Error("boom");
      const error = await storeFailure(
        transaction(async (tx) => {
          await fixture.insert(tx, "a", "1");
          await fixture.insert(tx, "b", "2");
          throw boom;
        }, scope),
      );
      expect(isProvablyNotApplied(error.kind), `kind ${error.kind} must say not applied`).toBe(
        true,
      );
      expect(causedBy(error, boom), "the original error must be in the cause chain").toBe(true);
      expect(await fixture.count(), "a rolled-back transaction must leave nothing").toBe(0);
    });

    it("a rolled-back transaction keeps a not-applied kind and replaces any other with not_committed", async () => {
      const { scope } = openScope();
      const conflict = await storeFailure(
        transaction(async (tx) => {
          await fixture.insert(tx, "a", "1");
          throw new StoreError("conflict", "the row moved on");
        }, scope),
      );
      expect(conflict.kind).toBe("conflict");
      const unknown = await storeFailure(
        transaction(async (tx) => {
          await fixture.insert(tx, "a", "1");
          throw new StoreError("unknown", "the network dropped");
        }, scope),
      );
      expect(unknown.kind, "rolled back means provably not applied").toBe("not_committed");
      expect(await fixture.count()).toBe(0);
    });

    it("the transaction handle sees its own writes; a root-handle read never sees them uncommitted", async () => {
      const { scope } = openScope();
      const written = deferred();
      const release = deferred();
      const seen: (string | undefined)[] = [];
      const running = transaction(async (tx) => {
        await fixture.insert(tx, "a", "1");
        seen.push(await fixture.read(tx, "a"));
        written.resolve();
        await release.promise;
        throw new Error("roll back");
      }, scope);
      await written.promise;
      expect(seen, "the transaction must read its own write").toEqual(["1"]);
      // A store may answer at once from committed data or wait for the transaction to end; either
      // way the read must not return a write that is then rolled back.
      const outside = fixture.read(fixture.store.handle, "a");
      await settle();
      release.resolve();
      await storeFailure(running);
      expect(await outside, "a root read saw an uncommitted write").toBeUndefined();
      expect(await fixture.read(fixture.store.handle, "a")).toBeUndefined();
    });

    for (const outcome of ["commits", "rolls back"] as const) {
      it(`a root-handle write during an open transaction is not joined to it when the transaction ${outcome}`, async () => {
        const { scope } = openScope();
        const written = deferred();
        const proceed = deferred();
        const seenInside: (string | undefined)[] = [];
        const boom = new Error("boom");
        const running = transaction(async (tx) => {
          await fixture.insert(tx, "inside", "1");
          written.resolve();
          await proceed.promise;
          seenInside.push(await fixture.read(tx, "outside"));
          if (outcome === "rolls back") throw boom;
        }, scope);
        await written.promise;
        let landed = false;
        const outside = fixture.insert(fixture.store.handle, "outside", "2").then(() => {
          landed = true;
        });
        await settle();
        expect(landed, "the root write must wait for the open transaction").toBe(false);
        proceed.resolve();
        if (outcome === "rolls back") await storeFailure(running);
        else await running;
        await outside;
        expect(seenInside, "the transaction must not see the root write").toEqual([undefined]);
        expect(await fixture.read(fixture.store.handle, "outside")).toBe("2");
        expect(await fixture.read(fixture.store.handle, "inside")).toBe(
          outcome === "commits" ? "1" : undefined,
        );
      });
    }

    it("an abort rolls back at once, even while the work is still running, and refuses its later writes", async () => {
      const { scope, controller } = openScope();
      const written = deferred();
      const resume = deferred();
      let lateWrite: Promise<unknown> = Promise.resolve();
      const running = transaction(async (tx) => {
        await fixture.insert(tx, "a", "1");
        written.resolve();
        await resume.promise;
        lateWrite = fixture.insert(tx, "b", "2");
        await lateWrite;
      }, scope);
      await written.promise;
      controller.abort(new Error("caller gave up"));
      const error = await storeFailure(running);
      expect(isProvablyNotApplied(error.kind), `kind ${error.kind}`).toBe(true);
      resume.resolve();
      await settle();
      const late = await storeFailure(lateWrite);
      expect(isProvablyNotApplied(late.kind), "a zombie write must be refused").toBe(true);
      expect(await fixture.count(), "nothing of an aborted transaction may land").toBe(0);
    });

    it("an already-aborted signal writes nothing", async () => {
      const { scope, controller } = openScope();
      controller.abort(new Error("too late"));
      const error = await storeFailure(
        transaction(async (tx) => {
          await fixture.insert(tx, "a", "1");
        }, scope),
      );
      expect(isProvablyNotApplied(error.kind)).toBe(true);
      await settle();
      expect(await fixture.count()).toBe(0);
    });
  });
}
