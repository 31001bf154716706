import { describe, expect, it, vi } from "vitest";
import { newSagaId, stepKey } from "../../src/core/ids.js";

describe("saga ids", () => {
  it("are ULIDs, unique and increasing, across many drawn in the same millisecond", () => {
    const ids = Array.from({ length: 5_000 }, () => newSagaId());
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("carry the time they were made in their first ten characters", () => {
    const decode = (text: string) =>
      [...text].reduce((n, c) => n * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(c), 0);
    const before = Date.now();
    const id = newSagaId();
    const after = Date.now();
    const at = decode(id.slice(0, 10));
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
  });

  it("draw fresh randomness for ids of different milliseconds", async () => {
    const first = newSagaId();
    await new Promise((resolve) => setTimeout(resolve, 3));
    const second = newSagaId();
    // Same-millisecond ids differ only in their last characters (monotonic increments); ids of
    // different milliseconds have independent random parts.
    expect(first.slice(10, 20)).not.toBe(second.slice(10, 20));
  });

  it("keep drawing fresh randomness past the first thousand random words", () => {
    // A ULID of a new millisecond takes 16 random words; 200 of them use up several refills of the
    // pool the words are drawn from.
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const start = Date.now() + 10_000;
      const randomParts = Array.from({ length: 200 }, (_, i) => {
        vi.setSystemTime(start + i);
        return newSagaId().slice(10);
      });
      expect(new Set(randomParts).size).toBe(randomParts.length);
      expect(randomParts.filter((part) => /^0+$/.test(part))).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("give every step a key derived from the saga id and the step name", () => {
    expect(stepKey("01ABC", "reserve")).toBe("01ABC:reserve");
  });
});
