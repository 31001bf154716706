import { describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";

/** The largest seed: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

/**
 * A seeded pseudo-random generator (mulberry32) returning numbers in [0, 1). The same seed always
 * yields the same sequence, so a run driven by it replays exactly; the testing kit never uses
 * `Math.random`.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * const runner = createRunner({ clock, random }); // backoff jitter replays with the seed
 * ```
 */
export function seededRandom(seed: number): () => number {
  assertSeed("seed", seed);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Derives an independent seed from a seed and any labels, so that each fault site, schedule or
 * process gets its own stream whose values do not depend on the order in which the others are used.
 *
 * @example
 * ```ts
 * const siteSeed = deriveSeed(plan.seed, "orders.handle.put");
 * ```
 */
export function deriveSeed(seed: number, ...labels: readonly (string | number)[]): number {
  assertSeed("seed", seed);
  // FNV-1a over the seed and the labels, then murmur3's finalizer to spread the bits.
  let h = 0x811c9dc5 ^ (seed >>> 0);
  const text = labels.map(String).join("\u0000");
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Throws a definition error unless `value` is an integer seed from 0 to {@link MAX_SEED}. */
export function assertSeed(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_SEED) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be an integer from 0 to ${MAX_SEED}, got ${describeValue(value)}.`,
    );
  }
}
