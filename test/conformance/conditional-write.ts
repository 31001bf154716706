import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WriteStore } from "../../src/core/store.js";
import { printConformanceCount } from "./report.js";
import { openScope } from "./transaction.js";

/** A document as the suite sees it: its value and an opaque version (a number, an ETag, …). */
export interface VersionedValue<Version> {
  readonly value: unknown;
  readonly version: Version;
}

/**
 * How the conditional-write suite drives one adapter: a store declaring `conditionalWrite`, and its
 * prepared writes for a key/value view of it. Keys are the suite's own; the fixture maps them into
 * a namespace of its own so runs never collide.
 */
export interface ConditionalWriteFixture<Handle, Write, Result, Version> {
  readonly store: WriteStore<Handle, Write, Result>;
  /** A write of `value` under `key`: unguarded, guarded by a version from `read`, or create-only. */
  put(key: string, value: unknown, ifVersion?: Version | "absent"): Write;
  /** A delete of `key`, guarded by a version from `read`. */
  remove(key: string, ifVersion: Version): Write;
  /** Reads `key` fresh from the store. */
  read(key: string): Promise<VersionedValue<Version> | undefined>;
  close(): Promise<void>;
}

/** How many cases {@link conditionalWriteConformance} registers, its own count check included. */
export const CONDITIONAL_WRITE_CASES = 11;

/**
 * Registers a `describe` block holding a store that declares `conditionalWrite` to what the core
 * relies on: a guard that does not hold affects nothing and changes nothing, a fresh version
 * applies, create-if-absent creates only once, of two racing writes with one version exactly one
 * wins, and a version is never given to a key twice, so a guard written against a deleted document
 * never matches the one created after it (what a guarded compensation relies on). Returns how many cases it registers; the last case checks that they all registered and
 * ran, so a suite that silently lost its cases fails.
 */
export function conditionalWriteConformance<Handle, Write, Result, Version>(
  name: string,
  factory: () => Promise<ConditionalWriteFixture<Handle, Write, Result, Version>>,
): number {
  const registered: string[] = [];
  let ran = 0;
  describe(`conditional-write conformance: ${name}`, () => {
    printConformanceCount("conditional write", name);
    let fixture: ConditionalWriteFixture<Handle, Write, Result, Version>;
    const apply = async (write: Write) => {
      const { store } = fixture;
      return store.affected(await store.apply(store.handle, write, openScope().scope));
    };
    const seed = async (key: string, value: unknown) => {
      expect(await apply(fixture.put(key, value)), `seeding "${key}" must apply`).toBe(1);
      const doc = await fixture.read(key);
      if (doc === undefined) throw new Error(`The seeded document "${key}" cannot be read back.`);
      return doc;
    };
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

    test("declares conditionalWrite and applies prepared writes", async () => {
      expect(fixture.store.capabilities.conditionalWrite).toBe(true);
      expect(typeof fixture.store.apply).toBe("function");
      expect(typeof fixture.store.affected).toBe("function");
    });

    test("an unguarded write applies and can be read back", async () => {
      expect(await apply(fixture.put("plain", { n: 1 }))).toBe(1);
      expect((await fixture.read("plain"))?.value).toEqual({ n: 1 });
    });

    test("create-if-absent creates a missing document", async () => {
      expect(await fixture.read("fresh"), "the key must start absent").toBeUndefined();
      expect(await apply(fixture.put("fresh", { n: 1 }, "absent"))).toBe(1);
      expect((await fixture.read("fresh"))?.value).toEqual({ n: 1 });
    });

    test("create-if-absent affects nothing and changes nothing when the document exists", async () => {
      const before = await seed("taken", { owner: "first" });
      expect(await apply(fixture.put("taken", { owner: "second" }, "absent"))).toBe(0);
      const after = await fixture.read("taken");
      expect(after?.value, "a second create must not overwrite the first").toEqual({
        owner: "first",
      });
      expect(after?.version).toEqual(before.version);
    });

    test("a write guarded by the current version applies and moves the version on", async () => {
      const before = await seed("doc", { n: 1 });
      expect(await apply(fixture.put("doc", { n: 2 }, before.version))).toBe(1);
      const after = await fixture.read("doc");
      expect(after?.value).toEqual({ n: 2 });
      expect(after?.version, "an applied write must change the version").not.toEqual(
        before.version,
      );
    });

    test("a write guarded by a stale version affects nothing and changes nothing", async () => {
      const stale = await seed("doc", { n: 1 });
      expect(await apply(fixture.put("doc", { n: 2 }))).toBe(1);
      const current = await fixture.read("doc");
      expect(await apply(fixture.put("doc", { n: 99 }, stale.version))).toBe(0);
      const after = await fixture.read("doc");
      expect(after?.value, "a stale guard must not clobber the newer write").toEqual({ n: 2 });
      expect(after?.version).toEqual(current?.version);
    });

    test("a write guarded by a version of a document since deleted creates nothing", async () => {
      const gone = await seed("gone", { n: 1 });
      expect(await apply(fixture.remove("gone", gone.version))).toBe(1);
      expect(await apply(fixture.put("gone", { n: 2 }, gone.version))).toBe(0);
      expect(
        await fixture.read("gone"),
        "a guarded write must not resurrect a document",
      ).toBeUndefined();
    });

    test("of two writes guarded by the same version, exactly one applies", async () => {
      const before = await seed("race", { winner: "none" });
      const outcomes = await Promise.all([
        apply(fixture.put("race", { winner: "a" }, before.version)),
        apply(fixture.put("race", { winner: "b" }, before.version)),
      ]);
      expect([...outcomes].sort(), "exactly one racing CAS may win").toEqual([0, 1]);
      const winner = outcomes[0] === 1 ? "a" : "b";
      expect((await fixture.read("race"))?.value).toEqual({ winner });
    });

    test("a delete guarded by a stale version affects nothing; by the current one it deletes", async () => {
      const stale = await seed("victim", { n: 1 });
      expect(await apply(fixture.put("victim", { n: 2 }))).toBe(1);
      const current = await fixture.read("victim");
      if (current === undefined) throw new Error("The rewritten document cannot be read back.");
      expect(await apply(fixture.remove("victim", stale.version))).toBe(0);
      expect((await fixture.read("victim"))?.value, "a stale delete must not delete").toEqual({
        n: 2,
      });
      expect(await apply(fixture.remove("victim", current.version))).toBe(1);
      expect(await fixture.read("victim")).toBeUndefined();
    });

    test("a guard written against a deleted document never matches the document created after it", async () => {
      // Another writer deletes the document and creates it anew, three times over: a guarded undo
      // still holding an earlier version must find nothing to undo, whatever that version was.
      const seen: Version[] = [];
      let current = await seed("reborn", { owner: "writer 0" });
      seen.push(current.version);
      for (let writer = 1; writer <= 3; writer++) {
        expect(await apply(fixture.remove("reborn", current.version))).toBe(1);
        expect(await apply(fixture.put("reborn", { owner: `writer ${writer}` }, "absent"))).toBe(1);
        const next = await fixture.read("reborn");
        if (next === undefined) throw new Error("The re-created document cannot be read back.");
        expect(
          seen,
          "a re-created document must not take a version its key had before (ABA)",
        ).not.toContainEqual(next.version);
        for (const stale of seen) {
          expect(
            await apply(fixture.remove("reborn", stale)),
            "a delete guarded by a version of a deleted document must not delete its successor",
          ).toBe(0);
          expect(
            await apply(fixture.put("reborn", { owner: "stale" }, stale)),
            "a write guarded by a version of a deleted document must not overwrite its successor",
          ).toBe(0);
        }
        expect(await fixture.read("reborn"), "the successor must be untouched").toEqual(next);
        seen.push(next.version);
        current = next;
      }
      expect(
        fixture.store.capabilities.versionsNeverReused,
        "a store whose versions are never reused declares it, so explain counts its guards as sound",
      ).toBe(true);
    });

    it("registers and runs every case (an empty suite cannot pass)", () => {
      expect(registered).toHaveLength(CONDITIONAL_WRITE_CASES - 1);
      expect(ran, "every registered case must have run to completion").toBe(registered.length);
    });
  });
  return CONDITIONAL_WRITE_CASES;
}
