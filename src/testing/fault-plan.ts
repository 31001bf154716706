import { assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { ERROR_KINDS, type ErrorKind } from "../model/error-kind.js";
import { assertSeed } from "./seeded-random.js";

/**
 * What an injected fault does to one call into an adapter.
 *
 * Every kind is honest about what happened to the effect, so a correct saga survives all of them:
 * a `fail_before` never lets the effect happen, a `fail_after` always does, a `hang` never
 * reaches the store, and a late effect (`late_landing`, `slow_commit`) lands only as the store's
 * declared attempt fence allows (see {@link FaultKind.LateLanding}).
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
  /**
   * The call outlives its deadline: it does not answer before the call's signal aborts, and its
   * effect applies `landingMs` after that, as a request held up in the network would. The store
   * gets the call as it was sent, with a signal that no longer aborts, so it cannot refuse it for
   * being late; a store that fences by token refuses it by its token. What the caller sees follows
   * the store's declared attempt fence, so the fault never makes a store break its declaration:
   *
   * - `in_process` and `kill_and_wait`: the call settles (with an error) only once the effect has
   *   landed, and an effect whose process died first never lands;
   * - `landing_horizon`: the call fails at its deadline, and the effect lands within the horizon;
   * - `fence_token` and `none`: the call fails at its deadline, and the effect lands later, even if
   *   the process that sent it died.
   *
   * The `landingMs` wait starts at the call's deadline: when its signal aborts. A call made without
   * a signal is due at once, so its effect lands `landingMs` after the call was made; a call whose
   * signal never aborts is due only when its process dies. A statement inside a transaction cannot
   * outlive its transaction: it fails at its deadline (at once without a signal) and never applies.
   * At a `transaction` site, where the client drives the work, it acts as `slow_commit`. On a saga
   * log, whose calls take no signal, the call is only slow: it applies `landingMs` after it was
   * made, and answers then.
   */
  LateLanding: "late_landing",
  /**
   * The store does the work, but its commit completes only `landingMs` after the call's deadline,
   * and the answer comes after that (a COMMIT slowed by a deferred trigger or a synchronous
   * standby). At a `transaction` site the work runs, then the commit waits; elsewhere the whole
   * write waits. The caller sees what `late_landing` says, except that where the call settles
   * after the effect it settles with the store's own answer.
   */
  SlowCommit: "slow_commit",
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
   * (seeded); for `fail_after`, `late_landing` and `slow_commit`, `unknown` or `timeout` — never a
   * kind that claims nothing happened
   */
  readonly errorKind?: ErrorKind;
  /**
   * The largest added latency, in milliseconds; each delay is drawn from 1 to this.
   * @default 1000
   */
  readonly latencyMs?: number;
  /**
   * For `late_landing` and `slow_commit`: how long after the call's deadline its effect lands, in
   * milliseconds on the wrapper's clock (virtual time with a `VirtualClock`, real time with the
   * system clock). A number is exact; a pair `[min, max]` draws each delay from that range.
   * @default [1, 1000]
   * @example 5_000 // lands 5 s after the deadline
   */
  readonly landingMs?: number | readonly [number, number];
  /**
   * Which calls of a matching site may fire, counted from 1 over the whole run: replays one
   * fault exactly, e.g. a late landing of the second write.
   * @default every call
   * @example [2]
   */
  readonly calls?: readonly number[];
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
  /**
   * How long after their deadline late landings and slow commits land: exact, or a `[min, max]`
   * range.
   * @default [1, 1000]
   */
  readonly landingMs?: number | readonly [number, number];
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
        landingMs: options.landingMs ?? DEFAULT_LANDING_MS,
      },
    ],
  });
}

/** How long after its deadline a late effect lands, unless a rule says. */
export const DEFAULT_LANDING_MS: readonly [number, number] = Object.freeze([1, 1_000] as const);

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
  const landing = rule.landingMs === undefined ? undefined : landingRange(rule.landingMs, where);
  if (rule.calls !== undefined) {
    if (!Array.isArray(rule.calls) || rule.calls.length === 0) {
      throw new LockstepDefinitionError(
        `Expected \`${where}.calls\` to be a non-empty list of call numbers, got ${describeValue(rule.calls)}.`,
      );
    }
    for (const [i, call] of rule.calls.entries()) assertInteger(`${where}.calls[${i}]`, call, 1);
  }
  if (rule.errorKind !== undefined && !ERROR_KINDS.includes(rule.errorKind)) {
    throw new LockstepDefinitionError(
      `Expected \`${where}.errorKind\` to be one of ${ERROR_KINDS.join(", ")}, got ${describeValue(rule.errorKind)}.`,
    );
  }
  return Object.freeze({
    ...rule,
    kind: Object.freeze([...kinds]),
    ...(landing === undefined ? {} : { landingMs: landing }),
    ...(rule.calls === undefined ? {} : { calls: Object.freeze([...rule.calls]) }),
  });
}

/** A rule's `landingMs` as a checked `[min, max]` range. */
export function landingRange(
  landingMs: number | readonly [number, number],
  where: string,
): readonly [number, number] {
  if (typeof landingMs === "number") {
    assertInteger(`${where}.landingMs`, landingMs, 0);
    return Object.freeze([landingMs, landingMs] as const);
  }
  const [min, max] = Array.isArray(landingMs) ? landingMs : [];
  if (
    !Array.isArray(landingMs) ||
    landingMs.length !== 2 ||
    !Number.isInteger(min) ||
    !Number.isInteger(max) ||
    (min as number) < 0 ||
    (max as number) < (min as number)
  ) {
    throw new LockstepDefinitionError(
      `Expected \`${where}.landingMs\` to be an integer >= 0 or a pair [min, max] of them with min <= max, got ${describeValue(landingMs)}.`,
    );
  }
  return Object.freeze([min as number, max as number] as const);
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
