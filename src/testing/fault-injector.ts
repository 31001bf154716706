import { assertInteger, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { ErrorKind } from "../model/error-kind.js";
import { EffectLedger } from "./effect-ledger.js";
import {
  checkFaultPlan,
  DEFAULT_LANDING_MS,
  type FaultKind,
  type FaultPlan,
  type FaultRule,
  kindsOf,
  siteMatches,
} from "./fault-plan.js";
import { deriveSeed, seededRandom } from "./seeded-random.js";

/** A fault that fired, as recorded by a {@link FaultInjector}. */
export interface FaultEvent {
  /** The site it fired at, e.g. `"orders:plain.handle.put"`. */
  readonly site: string;
  readonly kind: FaultKind;
  /** Which call at that site it hit, from 1, counted over the whole run. */
  readonly call: number;
  /** The plan's seed, to replay the run. */
  readonly seed: number;
}

/** What to do to one call: the fault and everything needed to inflict it. */
export interface Fault extends FaultEvent {
  /** For failing store calls: the kind of the thrown `StoreError`. */
  readonly errorKind: ErrorKind;
  /** For `latency`: how long the response is delayed, in milliseconds. */
  readonly latencyMs: number;
  /** For `late_landing` and `slow_commit`: how long after the deadline the effect lands. */
  readonly landingMs: number;
  /** A full sentence naming the fault, its site and the seed that replays it. */
  readonly message: string;
}

/** One late fault aimed at exactly one call, on top of a plan: see {@link FaultInjectorOptions}. */
export interface LateTarget {
  /** The site, e.g. `"orders:plain.handle.put"`. */
  readonly site: string;
  /** Which call at that site, from 1, counted over the whole run. */
  readonly call: number;
  readonly kind: "late_landing" | "slow_commit";
  /** How long after the call's deadline its effect lands, in milliseconds. */
  readonly landingMs: number;
}

/** Options of a {@link FaultInjector}. */
export interface FaultInjectorOptions {
  /** Called with every fault as it fires, e.g. to print the faults of a failing run. */
  readonly onFault?: (event: FaultEvent) => void;
  /**
   * A late fault for exactly one call, on top of the plan: that call is late whatever the plan
   * says of it, and every other call gets the plan's decision, as without the target (the plan's
   * streams advance the same). `exploreCrashPoints` makes each call of a run late in turn this way.
   * @default none
   */
  readonly target?: LateTarget;
}

/** How one site behaves for the whole run, fixed at its first call. */
interface SiteState {
  readonly rule: FaultRule | undefined;
  readonly active: boolean;
  readonly kind: FaultKind | undefined;
  readonly errorKind: ErrorKind;
  readonly random: () => number;
  calls: number;
  fires: number;
}

/** One site's fixed behaviour in a run, as reported by {@link FaultInjector.sites}. */
export interface FaultSiteState {
  readonly site: string;
  /** Whether the site can fire in this run (the first level of randomness). */
  readonly active: boolean;
  /** The kind it fires with, when active. */
  readonly kind: FaultKind | undefined;
  /** Calls seen so far. */
  readonly calls: number;
  /** Faults fired so far. */
  readonly fires: number;
}

const HONEST_BEFORE: readonly ErrorKind[] = [
  ErrorKind.Transient,
  ErrorKind.NotCommitted,
  ErrorKind.Unknown,
  ErrorKind.Timeout,
];
const HONEST_AFTER: readonly ErrorKind[] = [ErrorKind.Unknown, ErrorKind.Timeout];
/** The kinds whose effect may land: their error must never claim it did not. */
const MAY_LAND: readonly FaultKind[] = ["fail_after", "late_landing", "slow_commit"];
/** The kinds whose effect lands after the call's deadline. */
export const LATE_KINDS: readonly FaultKind[] = ["late_landing", "slow_commit"];

/**
 * The state of one run's faults: realizes a {@link FaultPlan}, site by site. Share one injector
 * between every adapter and every simulated process of a run, so that the run — crashes and
 * recoveries included — replays exactly from the plan's seed.
 *
 * Each site's decisions come from a stream seeded by the plan's seed and the site's name, so they do
 * not depend on how calls to other sites interleave.
 *
 * @example
 * ```ts
 * const injector = new FaultInjector(randomFaultPlan(99));
 * const orders = withFaults(createMemoryStore({ tier: "plain" }), injector, { clock });
 * const log = withFaults(new MemorySagaLog(), injector, { clock });
 * ```
 */
export class FaultInjector {
  /** The validated plan. */
  readonly plan: FaultPlan;
  /**
   * Whether faults fire. Turn it off to let a run settle (a last recovery with healthy stores);
   * while off, no site's stream advances.
   * @default true
   */
  enabled = true;
  readonly #onFault: ((event: FaultEvent) => void) | undefined;
  readonly #target: LateTarget | undefined;
  readonly #sites = new Map<string, SiteState>();
  readonly #fired: FaultEvent[] = [];
  readonly #landings = new Set<Promise<void>>();
  /** Every effect the stores wrapped with this injector applied; see {@link EffectLedger}. */
  readonly effects = new EffectLedger();

  constructor(plan: FaultPlan, options: FaultInjectorOptions = {}) {
    this.plan = checkFaultPlan(plan);
    this.#onFault = options.onFault;
    this.#target = options.target === undefined ? undefined : checkTarget(options.target);
  }

  /** Every fault fired so far, in order. */
  get fired(): readonly FaultEvent[] {
    return this.#fired;
  }

  /** How many late effects (`late_landing`, `slow_commit`) are still on their way to a store. */
  get landingsInFlight(): number {
    return this.#landings.size;
  }

  /**
   * Counts a late effect as on its way until `landing` settles. Called by {@link withFaults}.
   */
  landing(landing: Promise<unknown>): void {
    const done = landing.then(
      () => {},
      () => {},
    );
    this.#landings.add(done);
    void done.then(() => this.#landings.delete(done));
  }

  /**
   * Settles once every late effect on its way has landed (or died with its process), including
   * ones sent while it waits. On a virtual clock, drive it with `clock.settle`, which moves time
   * to each landing.
   */
  async landed(): Promise<void> {
    while (this.#landings.size > 0) await Promise.all([...this.#landings]);
  }

  /** Every site called so far and how it behaves in this run. */
  get sites(): readonly FaultSiteState[] {
    return [...this.#sites].map(([site, s]) => ({
      site,
      active: s.active,
      kind: s.kind,
      calls: s.calls,
      fires: s.fires,
    }));
  }

  /**
   * Decides the fault, if any, for the next call at `site`. Called by {@link withFaults} once per
   * call; an adapter wrapper of your own may call it too.
   */
  decide(site: string): Fault | undefined {
    if (!this.enabled) return undefined;
    const state = this.#site(site);
    state.calls++;
    const planned = this.#planned(state);
    const target = this.#target;
    if (target === undefined || target.site !== site || target.call !== state.calls) {
      return planned === undefined ? undefined : this.#fire(site, state.calls, planned);
    }
    return this.#fire(site, state.calls, {
      kind: target.kind,
      errorKind: ErrorKind.Timeout,
      latencyMs: 0,
      landingMs: target.landingMs,
    });
  }

  /** What the plan decides for the call just counted at a site, advancing the site's stream. */
  #planned(
    state: SiteState,
  ): Pick<Fault, "kind" | "errorKind" | "latencyMs" | "landingMs"> | undefined {
    const rule = state.rule;
    if (rule === undefined || !state.active || state.kind === undefined) return undefined;
    if (rule.times !== undefined && state.fires >= rule.times) return undefined;
    if (rule.calls !== undefined && !rule.calls.includes(state.calls)) return undefined;
    if (state.random() >= (rule.probability ?? 1)) return undefined;
    state.fires++;
    const latencyMs =
      state.kind === "latency" ? 1 + Math.floor(state.random() * (rule.latencyMs ?? 1_000)) : 0;
    const landingMs = LATE_KINDS.includes(state.kind) ? draw(rule, state.random) : 0;
    return { kind: state.kind, errorKind: state.errorKind, latencyMs, landingMs };
  }

  #fire(
    site: string,
    call: number,
    fault: Pick<Fault, "kind" | "errorKind" | "latencyMs" | "landingMs">,
  ): Fault {
    const event: FaultEvent = { site, kind: fault.kind, call, seed: this.plan.seed };
    this.#fired.push(event);
    this.#onFault?.(event);
    const replay =
      this.#target?.site === site && this.#target.call === call
        ? `targeted at this call, on top of the fault plan with seed ${this.plan.seed}`
        : `the fault plan with seed ${this.plan.seed} replays it`;
    return {
      ...event,
      ...fault,
      message: `Injected fault "${fault.kind}" at ${site} (call ${call}); ${replay}.`,
    };
  }

  #site(site: string): SiteState {
    const known = this.#sites.get(site);
    if (known !== undefined) return known;
    const seed = this.plan.seed;
    const index = this.plan.rules.findIndex((r) => siteMatches(r.site, site));
    const rule = index === -1 ? undefined : this.plan.rules[index];
    const pick = <T>(items: readonly T[], label: string): T | undefined =>
      items[Math.floor(seededRandom(deriveSeed(seed, label, index, site))() * items.length)];
    const active =
      rule !== undefined &&
      seededRandom(deriveSeed(seed, "active", index, site))() < (rule.active ?? 1);
    const kind = rule === undefined ? undefined : pick(kindsOf(rule), "kind");
    const errorKind =
      rule?.errorKind ??
      (pick(
        kind !== undefined && MAY_LAND.includes(kind) ? HONEST_AFTER : HONEST_BEFORE,
        "error",
      ) as ErrorKind);
    const state: SiteState = {
      rule,
      active,
      kind,
      errorKind,
      random: seededRandom(deriveSeed(seed, "calls", index, site)),
      calls: 0,
      fires: 0,
    };
    this.#sites.set(site, state);
    return state;
  }
}

function checkTarget(target: LateTarget): LateTarget {
  if (typeof target !== "object" || target === null || typeof target.site !== "string") {
    throw new LockstepDefinitionError(
      `Expected \`target\` to be a late fault aimed at one call ({ site, call, kind, landingMs }), got ${describeValue(target)}.`,
    );
  }
  assertInteger("target.call", target.call, 1);
  assertInteger("target.landingMs", target.landingMs, 0);
  if (!LATE_KINDS.includes(target.kind)) {
    throw new LockstepDefinitionError(
      `Expected \`target.kind\` to be one of ${LATE_KINDS.join(", ")}, got ${describeValue(target.kind)}.`,
    );
  }
  return Object.freeze({ ...target });
}

/** A late effect's delay past its deadline, from the rule's `landingMs`. */
function draw(rule: FaultRule, random: () => number): number {
  const landing = rule.landingMs ?? DEFAULT_LANDING_MS;
  const [min, max] = typeof landing === "number" ? [landing, landing] : landing;
  return min === max ? min : min + Math.floor(random() * (max - min + 1));
}
