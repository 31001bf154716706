import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { classifyError } from "../../src/core/error-kinds.js";
import type { WriteStore } from "../../src/core/store.js";
import { printConformanceCount } from "./report.js";
import { openScope } from "./transaction.js";

/**
 * How the fence-token suite drives one adapter: a store declaring `fence: { mode: "fence_token" }`,
 * an unguarded prepared write for a key/value view of it, and a read through a given handle. Keys
 * and saga ids are the suite's own; the fixture maps keys into a namespace of its own, and keeps
 * its fences apart from other runs' (a fresh service, a key prefix of its own).
 */
export interface FenceTokenFixture<Handle, Write, Result> {
  readonly store: WriteStore<Handle, Write, Result>;
  /** An unguarded write of `value` under `key`. */
  put(key: string, value: unknown): Write;
  /** Reads the value under `key` through `handle`, `undefined` when there is none. */
  read(handle: Handle, key: string): Promise<unknown>;
  close(): Promise<void>;
}

/** How many cases {@link fenceTokenConformance} registers, its own count check included. */
export const FENCE_TOKEN_CASES = 8;

/**
 * Registers a `describe` block holding a store that fences attempts by token to what the core
 * relies on when it probes, retries or compensates a step whose request did not answer: a write
 * through a step call's handle whose fencing token is lower than one already seen for its saga is
 * refused (`not_committed`) and applies nothing; a read through such a handle raises the bar too;
 * the bar is per saga, never lowered, and a write through the root handle (no step call) is never
 * refused by it. The last case checks that every case registered and ran.
 */
export function fenceTokenConformance<Handle, Write, Result>(
  name: string,
  factory: () => Promise<FenceTokenFixture<Handle, Write, Result>>,
): number {
  const registered: string[] = [];
  let ran = 0;
  describe(`fence-token conformance: ${name}`, () => {
    printConformanceCount("fence token", name);
    let fixture: FenceTokenFixture<Handle, Write, Result>;
    /** The handle of a call of step "s" of `sagaId` carrying `fencingToken`. */
    const handleOf = (sagaId: string, fencingToken: number): Handle => {
      const { store } = fixture;
      if (store.handleFor === undefined) throw new Error(`Store "${store.id}" has no handleFor.`);
      return store.handleFor(openScope().scope, {
        sagaId,
        step: "s",
        key: `${sagaId}:s`,
        fencingToken,
      });
    };
    const write = async (handle: Handle, key: string, value: unknown) => {
      const { store } = fixture;
      return store.affected(await store.apply(handle, fixture.put(key, value), openScope().scope));
    };
    /** What a write came to: its affected count, or the kind of error it was refused with. */
    const attempt = (handle: Handle, key: string, value: unknown) =>
      write(handle, key, value).then(
        (affected) => ({ affected }),
        (error: unknown) => ({ refused: classifyError(error) }),
      );
    const stored = (key: string) => fixture.read(fixture.store.handle, key);
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

    test("declares a fence_token fence and scopes a handle to each step call", async () => {
      expect(fixture.store.fence?.mode).toBe("fence_token");
      expect(typeof fixture.store.handleFor).toBe("function");
    });

    test("a write whose token is lower than one already seen for its saga is refused and applies nothing", async () => {
      expect(await write(handleOf("saga-a", 2), "doc", { by: 2 })).toBe(1);
      expect(await attempt(handleOf("saga-a", 1), "doc", { by: 1 })).toEqual({
        refused: "not_committed",
      });
      expect(await stored("doc"), "a refused write must not overwrite").toEqual({ by: 2 });
      expect(await attempt(handleOf("saga-a", 1), "fresh", { by: 1 })).toEqual({
        refused: "not_committed",
      });
      expect(await stored("fresh"), "a refused write must not create").toBeUndefined();
    });

    test("a write carrying the highest token seen, or a higher one, applies and raises the bar", async () => {
      expect(await write(handleOf("saga-a", 3), "doc", { by: 3 })).toBe(1);
      expect(await write(handleOf("saga-a", 3), "doc", { by: "3 again" })).toBe(1);
      expect(await write(handleOf("saga-a", 4), "doc", { by: 4 })).toBe(1);
      expect(await attempt(handleOf("saga-a", 3), "doc", { by: "3 late" })).toEqual({
        refused: "not_committed",
      });
      expect(await stored("doc")).toEqual({ by: 4 });
    });

    test("a read raises the bar: a write with a lower token after it is refused", async () => {
      expect(await write(handleOf("saga-a", 1), "doc", { by: 1 })).toBe(1);
      expect(await fixture.read(handleOf("saga-a", 5), "doc")).toEqual({ by: 1 });
      expect(await attempt(handleOf("saga-a", 4), "doc", { by: 4 })).toEqual({
        refused: "not_committed",
      });
      expect(await stored("doc"), "the late write must not land after the read").toEqual({
        by: 1,
      });
      expect(await write(handleOf("saga-a", 5), "doc", { by: 5 })).toBe(1);
    });

    test("a read with a lower token is answered and does not lower the bar", async () => {
      expect(await write(handleOf("saga-a", 5), "doc", { by: 5 })).toBe(1);
      expect(await fixture.read(handleOf("saga-a", 2), "doc")).toEqual({ by: 5 });
      expect(await attempt(handleOf("saga-a", 4), "doc", { by: 4 })).toEqual({
        refused: "not_committed",
      });
    });

    test("the bar is per saga: another saga's lower token is not refused", async () => {
      expect(await write(handleOf("saga-a", 9), "a", { by: "a" })).toBe(1);
      expect(await write(handleOf("saga-b", 1), "b", { by: "b" })).toBe(1);
      expect(await stored("b")).toEqual({ by: "b" });
    });

    test("a write through the root handle carries no fence and is never refused by one", async () => {
      expect(await write(handleOf("saga-a", 9), "doc", { by: 9 })).toBe(1);
      expect(await write(fixture.store.handle, "doc", { by: "root" })).toBe(1);
      expect(await stored("doc")).toEqual({ by: "root" });
    });

    it("registers and runs every case (an empty suite cannot pass)", () => {
      expect(registered).toHaveLength(FENCE_TOKEN_CASES - 1);
      expect(ran, "every registered case must have run to completion").toBe(registered.length);
    });
  });
  return FENCE_TOKEN_CASES;
}
