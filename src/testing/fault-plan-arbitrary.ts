import { assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { FastCheckArbitrary } from "./fast-check-types.js";
import { FAULT_KINDS, type FaultKind, type FaultPlan } from "./fault-plan.js";
import { MAX_SEED } from "./seeded-random.js";

/**
 * The parts of fast-check {@link faultPlanArbitrary} uses: pass `fc` itself. Written out without
 * fast-check's types, which a project without fast-check (an optional peer) cannot resolve.
 */
export interface FastCheckArbitraries {
  record(model: Readonly<Record<string, unknown>>): unknown;
  integer(constraints: { readonly min: number; readonly max: number }): unknown;
  double(constraints: {
    readonly min: number;
    readonly max: number;
    readonly noNaN: boolean;
  }): unknown;
  constantFrom(...values: string[]): unknown;
  subarray(values: FaultKind[], constraints: { readonly minLength: number }): unknown;
  array(arbitrary: never, constraints: { readonly maxLength: number }): unknown;
}

/** Options of {@link faultPlanArbitrary}. */
export interface FaultPlanArbitraryOptions {
  /**
   * The site names or patterns rules may target.
   * @default ["*"]
   * @example ["log.*", "orders:plain.handle.put"]
   */
  readonly sites?: readonly string[];
  /**
   * The kinds rules pick from.
   * @default every kind
   */
  readonly kinds?: readonly FaultKind[];
  /**
   * The most rules in a plan.
   * @default 3
   */
  readonly maxRules?: number;
  /**
   * The most times one site fires in a run.
   * @default 3
   */
  readonly maxTimes?: number;
  /**
   * The largest added latency, in milliseconds.
   * @default 1000
   */
  readonly maxLatencyMs?: number;
}

/**
 * A fast-check arbitrary of fault plans: a seed and up to `maxRules` rules, each on one of `sites`
 * with some of `kinds` and its own two probabilities. It shrinks toward fewer rules that fire
 * fewer times, so a failing plan comes back small. fast-check stays an optional peer: pass your
 * `fc`.
 *
 * @example
 * ```ts
 * await fc.assert(fc.asyncProperty(faultPlanArbitrary(fc, { sites: ["log.*"] }), async (plan) => {
 *   const result = await simulate({ ...scenario, seeds: [plan.seed], faults: () => plan });
 *   expect(result.isOk()).toBe(true);
 * }));
 * ```
 */
export function faultPlanArbitrary(
  fc: FastCheckArbitraries,
  options: FaultPlanArbitraryOptions = {},
): FastCheckArbitrary<FaultPlan> {
  const sites = options.sites ?? ["*"];
  const kinds = options.kinds ?? FAULT_KINDS;
  if (
    !Array.isArray(sites) ||
    sites.length === 0 ||
    sites.some((s) => typeof s !== "string" || s === "")
  ) {
    throw new LockstepDefinitionError(
      `Expected \`sites\` of faultPlanArbitrary to be a non-empty list of site patterns, got ${describeValue(sites)}.`,
    );
  }
  if (!Array.isArray(kinds) || kinds.length === 0 || kinds.some((k) => !FAULT_KINDS.includes(k))) {
    throw new LockstepDefinitionError(
      `Expected \`kinds\` of faultPlanArbitrary to be a non-empty list of ${FAULT_KINDS.join(", ")}, got ${describeValue(kinds)}.`,
    );
  }
  const maxRules = options.maxRules ?? 3;
  const maxTimes = options.maxTimes ?? 3;
  const maxLatencyMs = options.maxLatencyMs ?? 1_000;
  assertInteger("faultPlanArbitrary: maxRules", maxRules, 0);
  assertInteger("faultPlanArbitrary: maxTimes", maxTimes, 1);
  assertInteger("faultPlanArbitrary: maxLatencyMs", maxLatencyMs, 1);
  const rule = fc.record({
    site: fc.constantFrom(...sites),
    kind: fc.subarray([...kinds], { minLength: 1 }),
    active: fc.double({ min: 0, max: 1, noNaN: true }),
    probability: fc.double({ min: 0.05, max: 1, noNaN: true }),
    times: fc.integer({ min: 1, max: maxTimes }),
    latencyMs: fc.integer({ min: 1, max: maxLatencyMs }),
  });
  return fc.record({
    seed: fc.integer({ min: 0, max: MAX_SEED }),
    rules: fc.array(rule as never, { maxLength: maxRules }),
  }) as FastCheckArbitrary<FaultPlan>;
}
