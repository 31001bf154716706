/**
 * fast-check's types as far as the testing kit relies on them, written out structurally so that the
 * kit's declarations compile in a project without fast-check, an optional peer. fast-check's own
 * values fit them: pass `fc` itself and the `s` of `fc.scheduler()`.
 */

/** fast-check's `Scheduler` (the `s` of `fc.scheduler()`), as far as the kit uses it. */
export interface FastCheckScheduler {
  /** How many scheduled tasks are waiting to be released. */
  count(): number;
  /** Releases the next `count` tasks, in the order fast-check picks. */
  waitNext(count: number): Promise<void>;
  /** Schedules `task`, with a label for fast-check's report, and resolves once it is released. */
  schedule<T>(task: Promise<T>, label?: string): Promise<T>;
}

/**
 * An arbitrary of `T` that fast-check built (its `fc.Arbitrary<T>`), described without fast-check's
 * types. Pass it wherever fast-check takes an arbitrary (`fc.property`, `fc.asyncProperty`,
 * `fc.sample`), and `map`, `filter` or `chain` it as usual; `generate` and `shrink` are fast-check's
 * to call.
 */
export interface FastCheckArbitrary<T> {
  /** fast-check's to call: draws a value. */
  generate(
    random: never,
    biasFactor: number | undefined,
  ): {
    readonly value: T;
    readonly value_: T;
    readonly context: unknown;
    readonly hasToBeCloned: boolean;
  };
  /** Whether `value` could have come from this arbitrary. */
  canShrinkWithoutContext(value: unknown): value is T;
  /** fast-check's to call: the smaller values to try after `value` failed. */
  shrink(value: T, context: unknown): never;
  /** Only the values that pass `refinement`. */
  filter<U extends T>(refinement: (t: T) => t is U): FastCheckArbitrary<U>;
  /** Only the values that pass `predicate`. */
  filter(predicate: (t: T) => boolean): FastCheckArbitrary<T>;
  /** The values mapped through `mapper`. */
  map<U>(mapper: (t: T) => U, unmapper?: (possiblyU: unknown) => T): FastCheckArbitrary<U>;
  /** The values of the arbitrary `chainer` makes of each value. */
  chain<U>(
    chainer: (t: T) => { canShrinkWithoutContext(value: unknown): value is U },
  ): FastCheckArbitrary<U>;
}
