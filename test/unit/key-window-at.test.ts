import { describe, expect, it } from "vitest";
import { keyWindowAt } from "../../src/core/key-window.js";

/** Where a step's key stands against its store's key window, as its execute and probe see it. */
describe("a step's key window", () => {
  it("is absent when the store declares none or the key was never sent", () => {
    expect(keyWindowAt(undefined, 1_000, 5_000)).toBeUndefined();
    expect(keyWindowAt(60_000, undefined, 5_000)).toBeUndefined();
    expect(keyWindowAt(undefined, undefined, 5_000)).toBeUndefined();
  });

  it("expires at the first send plus the window, and has expired from that very millisecond", () => {
    expect(keyWindowAt(60_000, 1_000, 60_999)).toEqual({
      windowMs: 60_000,
      firstSentAt: 1_000,
      expiresAt: 61_000,
      expired: false,
    });
    expect(keyWindowAt(60_000, 1_000, 61_000)?.expired).toBe(true);
    expect(keyWindowAt(60_000, 1_000, 61_001)?.expired).toBe(true);
  });
});
