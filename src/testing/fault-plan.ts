import { assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { ERROR_KINDS, type ErrorKind } from "../model/error-kind.js";
import { assertSeed } from "./seeded-random.js";

/**
 * What an injected fault does to one call into an adapter.
 *
 * Every kind is honest about what happened to the effect, so a correct saga survives all of them:
 * a `fail_before` never lets the effect happen, a `fail_after` always does, and a `hang` never
 * reaches the store.
 */
export const FaultKind = {
  /** The call fails before its effect: nothing is written, the caller gets an error. */
  FailBefore: "fail_before",
  /** The effect happens, then the caller gets an error instead of the result (a lost response). */
  FailAfter: "fail_after",
  /**
   * The call never reaches the store and never settles, or settles with an error only when the
   * call's `AbortSignal` aborts: a deadline is what ends it.
   */
  Hang: "hang",
  /**
   * The simulated process dies at the call: its {@link CrashSwitch} trips, the call and every later
   * call of that process throw, and nothing more it does becomes durable.
   */
  Crash: "crash",
  /** The effect happens, then the response is delayed on the injected clock. */
  Latency: "latency",
} as const;

/** One of the values of {@link FaultKind}. */
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** Every fault kind, in a stable order. */
export const FAULT_KINDS: readonly FaultKind[] = Object.freeze(Object.values(FaultKind));

/**
 * Which calls a fault can hit and what it does there.
 *
 * Sites are named `<adapter>.<method>`: `<store id>.handle.<method>` for the store's root handle,
 * `<store id>.tx.<method>` inside a transaction, `<store id>.transaction`, `<store id>.batch` and
 * `<store id>.apply`; `log.<method>`, `log.coCommit.create` and `log.coCommit.write` for a saga log.
 */
export interface FaultRule {
  /**
   * A site name, or a pattern in which `*` matches any run of characters.
   * @example "orders:batch.handle.put"
   * @example "log.*"
   */
  readonly site: string;
  /**
   * What the fault does. With several kinds, each matching site picks one, seeded, for the whole
   * run.
   */
  readonly kind: FaultKind | readonly FaultKind[];
  /**
   * The probability that a matching site is active in a run (the first level of randomness).
   * @default 1
   */
  readonly active?: number;
  /**
   * The probability that an active site fires on each call (the second level).
   * @default 1
   */
  readonly probability?: number;
  /**
   * The most times one site fires in a run.
   * @default unlimited
   */
  readonly times?: number;
  /**
   * The kind of the error a failing store call throws. A saga log always throws
   * `SagaLogError("io")`.
   * @default for `fail_before`, one of `transient`, `not_committed`, `unknown`, `timeout` per site
   * (seeded); for `fail_after`, `unknown` or `timeout` — never a kind that claims nothing happened
   */
  readonly errorKind?: ErrorKind;
  /**
   * The largest added latency, in milliseconds; each delay is drawn from 1 to this.
   * @default 1000
   */
  readonly latencyMs?: number;
}

/**
 * A fault plan: plain data that, with its seed, fixes every fault of a run. Replaying a plan
 * replays the run exactly.
 *
 * @example
 * ```ts
 * const plan: FaultPlan = {
 *   seed: 7,
 *   rules: [{ site: "orders:plain.handle.put", kind: "fail_after", times: 1 }],
 * };
 * ```
 */
export interface FaultPlan {
  /** Seeds every random choice of the plan. An integer from 0 to 2^32 - 1. */
  readonly seed: number;
  /** The rules; for each site the first rule whose pattern matches applies. */
  readonly rules: readonly FaultRule[];
}

/** Options of {@link randomFaultPlan}. */
export interface RandomFaultPlanOptions {
  /**
   * Which sites may fault, as a pattern.
   * @default "*"
   */
  readonly site?: string;
  /**
   * The kinds sites pick from.
   * @default every kind
   */
  readonly kinds?: readonly FaultKind[];
  /**
   * The probability that a site is active in the run.
   * @default 0.3
   */
  readonly active?: number;
  /**
   * The probability that an active site fires on a call.
   * @default 0.2
   */
  readonly probability?: number;
  /**
   * The most times one site fires in a run.
   * @default 3
   */
  readonly times?: number;
  /**
   * The largest added latency, in milliseconds.
   * @default 1000
   */
  readonly latencyMs?: number;
}

/**
 * A plan with two-level seeded randomness over every site: each site is active in the run with
 * probability `active`, and an active site fires on each call with probability `probability`.
 *
 * @example
 * ```ts
 * const plan = randomFaultPlan(1234, { kinds: ["fail_before", "fail_after", "crash"] });
 * ```
 */
export function randomFaultPlan(seed: number, options: RandomFaultPlanOptions = {}): FaultPlan {
  return checkFaultPlan({
    seed,
    rules: [
      {
        site: options.site ?? "*",
        kind: options.kinds ?? FAULT_KINDS,
        active: options.active ?? 0.3,
        probability: options.probability ?? 0.2,
        times: options.times ?? 3,
        latencyMs: options.latencyMs ?? 1_000,
      },
    ],
  });
}

/** The empty plan: no faults. */
export const NO_FAULTS: FaultPlan = Object.freeze({ seed: 0, rules: Object.freeze([]) });

/**
 * Validates a fault plan and returns a frozen copy; throws a {@link LockstepDefinitionError} naming
 * the first bad value.
 */
export function checkFaultPlan(plan: FaultPlan): FaultPlan {
  if (typeof plan !== "object" || plan === null) {
    throw new LockstepDefinitionError(
      `Expected a fault plan to be an object with \`seed\` and \`rules\`, got ${describeValue(plan)}.`,
    );
  }
  assertSeed("plan.seed", plan.seed);
  if (!Array.isArray(plan.rules)) {
    throw new LockstepDefinitionError(
      `Expected \`plan.rules\` to be an array of fault rules, got ${describeValue(plan.rules)}.`,
    );
  }
  const rules = plan.rules.map((rule, i) => checkRule(rule, `plan.rules[${i}]`));
  return Object.freeze({ seed: plan.seed, rules: Object.freeze(rules) });
}

function checkRule(rule: FaultRule, where: string): FaultRule {
  if (typeof rule !== "object" || rule === null) {
    throw new LockstepDefinitionError(
      `Expected \`${where}\` to be a fault rule object, got ${describeValue(rule)}.`,
    );
  }
  if (typeof rule.site !== "string" || rule.site.length === 0) {
    throw new LockstepDefinitionError(
      `Expected \`${where}.site\` to be a non-empty site name or pattern, got ${describeValue(rule.site)}.`,
    );
  }
  const kinds = kindsOf(rule);
  if (kinds.length === 0 || kinds.some((k) => !FAULT_KINDS.includes(k))) {
    throw new LockstepDefinitionError(
      `Expected \`${where}.kind\` to be one or more of ${FAULT_KINDS.join(", ")}, got ${describeValue(rule.kind)}.`,
    );
  }
  for (const key of ["active", "probability"] as const) {
    const value = rule[key];
    if (value !== undefined && !(typeof value === "number" && value >= 0 && value <= 1)) {
      throw new LockstepDefinitionError(
        `Expected \`${where}.${key}\` to be a probability from 0 to 1, got ${describeValue(value)}.`,
      );
    }
  }
  if (rule.times !== undefined) assertInteger(`${where}.times`, rule.times, 1);
  if (rule.latencyMs !== undefined) assertInteger(`${where}.latencyMs`, rule.latencyMs, 1);
  if (rule.errorKind !== undefined && !ERROR_KINDS.includes(rule.errorKind)) {
    throw new LockstepDefinitionError(
      `Expected \`${where}.errorKind\` to be one of ${ERROR_KINDS.join(", ")}, got ${describeValue(rule.errorKind)}.`,
    );
  }
  return Object.freeze({ ...rule, kind: Object.freeze([...kinds]) });
}

/** The kinds a rule names, as a list. */
export function kindsOf(rule: FaultRule): readonly FaultKind[] {
  return typeof rule.kind === "string" ? [rule.kind] : Array.isArray(rule.kind) ? rule.kind : [];
}

/** Whether a site name matches a rule's pattern, in which `*` matches any run of characters. */
export function siteMatches(pattern: string, site: string): boolean {
  if (!pattern.includes("*")) return pattern === site;
  const parts = pattern.split("*");
  const first = parts[0] as string;
  const last = parts[parts.length - 1] as string;
  if (!site.startsWith(first) || site.length < first.length + last.length) return false;
  let at = first.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = site.indexOf(parts[i] as string, at);
    if (found === -1) return false;
    at = found + (parts[i] as string).length;
  }
  return site.length - last.length >= at && site.endsWith(last);
}
