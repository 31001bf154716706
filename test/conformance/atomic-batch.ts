import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CallScope } from "../../src/core/deadline.js";
import type { WriteStore } from "../../src/core/store.js";
import { ErrorKind, isProvablyNotApplied } from "../../src/model/error-kind.js";
import type { VersionedValue } from "./conditional-write.js";
import { printConformanceCount } from "./report.js";
import { openScope, storeFailure } from "./transaction.js";

/**
 * How the atomic-batch suite drives one adapter: a store declaring `atomicBatch`, and its prepared
 * writes for a key/value view of it. The fixture maps the suite's keys into a namespace of its own.
 */
export interface AtomicBatchFixture<Handle, Write, Result, Version> {
  readonly store: WriteStore<Handle, Write, Result> & {
    readonly batch?: (writes: readonly Write[], scope: CallScope) => Promise<readonly Result[]>;
  };
  /** A write of `value` under `key`: unguarded, guarded by a version from `read`, or create-only. */
  put(key: string, value: unknown, ifVersion?: Version | "absent"): Write;
  /** The version a write result reports the document at. */
  versionOf(result: Result): Version | null;
  /** Reads `key` fresh from the store. */
  read(key: string): Promise<VersionedValue<Version> | undefined>;
  /**
   * Arranges that the store refuses any write to `key` (e.g. the key holds a value of another
   * type), so that a batch containing one must apply nothing.
   */
  refuse(key: string): Promise<void>;
  close(): Promise<void>;
}

/** How many cases {@link atomicBatchConformance} registers, its own count check included. */
export const ATOMIC_BATCH_CASES = 10;

/**
 * Registers a `describe` block holding a store that declares `atomicBatch` to what `runAtomic`
 * relies on: every write applies or none does, results come back by position, a guard that does not
 * hold fails the batch as a conflict naming the write's index, a refused write or an aborted signal
 * applies nothing. Returns how many cases it registers; the last case checks that they all
 * registered and ran.
 */
export function atomicBatchConformance<Handle, Write, Result, Version>(
  name: string,
  factory: () => Promise<AtomicBatchFixture<Handle, Write, Result, Version>>,
): number {
  const registered: string[] = [];
  let ran = 0;
  describe(`atomic-batch conformance: ${name}`, () => {
    printConformanceCount("atomic batch", name);
    let fixture: AtomicBatchFixture<Handle, Write, Result, Version>;
    const batch = (writes: readonly Write[], scope: CallScope = openScope().scope) => {
      const run = fixture.store.batch;
      if (run === undefined) throw new Error(`${name} has no batch method.`);
      return run(writes, scope);
    };
    const seed = async (entries: Record<string, unknown>) => {
      await batch(Object.entries(entries).map(([key, value]) => fixture.put(key, value)));
      const docs: Record<string, VersionedValue<Version>> = {};
      for (const key of Object.keys(entries)) {
        const doc = await fixture.read(key);
        if (doc === undefined) throw new Error(`The seeded document "${key}" cannot be read back.`);
        docs[key] = doc;
      }
      return docs;
    };
    const values = async (keys: readonly string[]) =>
      Promise.all(keys.map(async (key) => (await fixture.read(key))?.value));
    const test = (title: string, body: () => Promise<void>) => {
      registered.push(title);
      it(title, async () => {
        await body();
        ran++;
      });
    };

    beforeEach(async () => {
      fixture = await factory();
    });
    afterEach(async () => {
      await fixture.close();
    });

    test("declares atomicBatch and provides batch", async () => {
      expect(fixture.store.capabilities.atomicBatch).toBe(true);
      expect(typeof fixture.store.batch).toBe("function");
    });

    test("applies every write and returns one result per write, by position", async () => {
      await seed({ a: 1 });
      await batch([fixture.put("a", 2)]); // "a" is now a version ahead of a fresh document
      const results = await batch([
        fixture.put("a", 3),
        fixture.put("b", 1, "absent"),
        fixture.put("c", 1),
      ]);
      expect(results, "one result per write").toHaveLength(3);
      expect(results.map((r) => fixture.store.affected(r))).toEqual([1, 1, 1]);
      expect(await values(["a", "b", "c"])).toEqual([3, 1, 1]);
      const versions = await Promise.all(
        ["a", "b", "c"].map(async (k) => (await fixture.read(k))?.version),
      );
      expect(
        results.map((r) => fixture.versionOf(r)),
        "result i must describe write i",
      ).toEqual(versions);
      expect(versions[0], "a rewritten and a new document must differ in version").not.toEqual(
        versions[1],
      );
    });

    for (const position of [0, 1, 2]) {
      test(`a stale guard at position ${position} fails the batch as a conflict naming index ${position} and applies nothing`, async () => {
        const docs = await seed({ x: "x0", y: "y0", z: "z0" });
        const keys = ["x", "y", "z"];
        const staleKey = keys[position] as string;
        await batch([fixture.put(staleKey, `${staleKey}-other`)]); // another writer moves it on
        const error = await storeFailure(
          batch(keys.map((k) => fixture.put(k, `${k}1`, docs[k]?.version))),
        );
        expect(error.kind).toBe(ErrorKind.Conflict);
        expect(error.index, "the conflict must name the write whose guard failed").toBe(position);
        const expected = keys.map((k) => (k === staleKey ? `${k}-other` : `${k}0`));
        expect(await values(keys), "nothing of a conflicting batch may apply").toEqual(expected);
      });
    }

    test("create-if-absent on an existing key fails the batch as a conflict and applies nothing", async () => {
      await seed({ taken: "first" });
      const error = await storeFailure(
        batch([fixture.put("new", "n"), fixture.put("taken", "second", "absent")]),
      );
      expect(error.kind).toBe(ErrorKind.Conflict);
      expect(error.index).toBe(1);
      expect(await values(["new", "taken"])).toEqual([undefined, "first"]);
    });

    test("a write the store refuses fails the batch as not applied and applies nothing", async () => {
      await seed({ a: "a0" });
      await fixture.refuse("bad");
      const error = await storeFailure(
        batch([fixture.put("a", "a1"), fixture.put("bad", "b1"), fixture.put("c", "c1")]),
      );
      expect(isProvablyNotApplied(error.kind), `kind ${error.kind} must say not applied`).toBe(
        true,
      );
      expect(error.kind, "a refusal is not a lost guard").not.toBe(ErrorKind.Conflict);
      if (error.index !== undefined) expect(error.index).toBe(1);
      expect(await values(["a", "c"]), "the writes around the refused one must not land").toEqual([
        "a0",
        undefined,
      ]);
    });

    test("a signal aborted before the batch applies nothing", async () => {
      const { scope, controller } = openScope();
      controller.abort(new Error("caller gave up"));
      const error = await storeFailure(batch([fixture.put("a", 1), fixture.put("b", 2)], scope));
      expect(isProvablyNotApplied(error.kind), `kind ${error.kind} must say not applied`).toBe(
        true,
      );
      expect(await values(["a", "b"])).toEqual([undefined, undefined]);
    });

    test("after a conflict, the same batch with fresh versions applies", async () => {
      const docs = await seed({ p: "p0", q: "q0" });
      await batch([fixture.put("q", "q-other")]);
      await storeFailure(
        batch([fixture.put("p", "p1", docs.p?.version), fixture.put("q", "q1", docs.q?.version)]),
      );
      const p = await fixture.read("p");
      const q = await fixture.read("q");
      const results = await batch([
        fixture.put("p", "p1", p?.version),
        fixture.put("q", "q1", q?.version),
      ]);
      expect(results.map((r) => fixture.store.affected(r))).toEqual([1, 1]);
      expect(await values(["p", "q"])).toEqual(["p1", "q1"]);
    });

    it("registers and runs every case (an empty suite cannot pass)", () => {
      expect(registered).toHaveLength(ATOMIC_BATCH_CASES - 1);
      expect(ran, "every registered case must have run to completion").toBe(registered.length);
    });
  });
  return ATOMIC_BATCH_CASES;
}
