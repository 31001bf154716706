import type { Clock } from "../core/clock.js";
import { createRunner, type Runner } from "../core/runner.js";
import type { SagaLog } from "../log/saga-log.js";
import { RECOVERABLE_STATUSES } from "../model/records.js";
import { createRecoverer, type Recoverer } from "../recovery/recoverer.js";
import { canonicalJson } from "./canonical-json.js";
import { CrashSwitch } from "./crash-switch.js";
import { effectsMatchLog } from "./effects-match-log.js";
import type { FaultInjector } from "./fault-injector.js";
import { type Invariant, loadSagas } from "./invariant.js";
import { noDoubleEffect } from "./no-double-effect.js";
import { type AnySaga, type Scenario, type ScenarioWorld, sagaFor } from "./scenario.js";
import type { CallGate } from "./seeded-scheduler.js";
import { standardInvariants } from "./standard-invariants.js";
import type { VirtualClock } from "./virtual-clock.js";
import { withFaults } from "./with-faults.js";

/** The lease of every simulated runner and recoverer unless the scenario sets one, in milliseconds. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/** One simulated process: its crash switch, its wrapped view of the world, and its runner. */
export interface SimulatedProcess<World> {
  readonly crash: CrashSwitch;
  /** The process's clock: the shared one, except that its timers die with the process. */
  readonly clock: Clock;
  readonly world: World;
  readonly saga: AnySaga;
  readonly runner: Runner;
  readonly recoverer: Recoverer;
}

/** Where a simulated process runs. */
export interface ProcessSetup<World> {
  readonly world: World;
  readonly log: SagaLog;
  readonly clock: VirtualClock;
  readonly injector: FaultInjector;
  readonly owner: string;
  readonly random: () => number;
  readonly crashAt?: number | undefined;
  readonly gate?: CallGate | undefined;
}

/**
 * Starts a fresh simulated process over shared durable state: its own crash switch, every store
 * and the log wrapped for it, a saga built for it, and a runner and recoverer of its own.
 */
export function startProcess<World extends ScenarioWorld>(
  scenario: Scenario<World, AnySaga>,
  setup: ProcessSetup<World>,
): SimulatedProcess<World> {
  const crash = new CrashSwitch(setup.crashAt);
  const clock = processClock(setup.clock, crash);
  const wiring = {
    clock,
    // A request already sent lands even after its process died: late effects wait on the world's
    // clock, whose timers outlive the process.
    landingClock: setup.clock,
    crash,
    reads: scenario.reads ?? [],
    ...(setup.gate === undefined ? {} : { gate: setup.gate }),
    ...(scenario.realIo === true ? { inFlight: setup.clock.io } : {}),
  };
  const stores = Object.fromEntries(
    Object.entries(setup.world.stores).map(([name, store]) => [
      name,
      withFaults(store, setup.injector, wiring),
    ]),
  );
  const world = { ...setup.world, stores } as World;
  const saga = sagaFor(scenario, world, setup.injector.effects);
  const runner = createRunner({
    clock,
    log: withFaults(setup.log, setup.injector, wiring),
    owner: setup.owner,
    leaseTtlMs: scenario.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
    ...(scenario.timeoutMs === undefined ? {} : { timeoutMs: scenario.timeoutMs }),
    ...(scenario.retry === undefined ? {} : { retry: scenario.retry }),
    random: setup.random,
  });
  const recoverer = createRecoverer({ runner, sagas: [saga], ...scenario.recoverer });
  return { crash, clock, world, saga, runner, recoverer };
}

/**
 * A process's view of the shared clock: its timers die with it, as a killed process's would, so
 * that a dead runner's lease heartbeat stops beating.
 */
function processClock(clock: VirtualClock, crash: CrashSwitch): Clock {
  return {
    now: () => clock.now(),
    setTimer(callback, ms) {
      if (crash.dead) return () => {};
      return clock.setTimer(() => {
        if (!crash.dead) callback();
      }, ms);
    },
  };
}

/** The invariants a scenario is checked against. */
export function invariantsOf<World extends ScenarioWorld>(
  scenario: Scenario<World, AnySaga>,
): readonly Invariant<World>[] {
  const own = scenario.invariants ?? [];
  const standard = scenario.standardInvariants === false ? [] : standardInvariants();
  const effects = scenario.effectInvariants === false ? [] : [effectsMatchLog(), noDoubleEffect()];
  return [...standard, ...own, ...effects];
}

/**
 * The durable state: the stores (by the scenario's `snapshot`, the world's, or each store's) and
 * the whole log.
 */
export async function durableSnapshot<World extends ScenarioWorld>(
  scenario: Scenario<World, AnySaga>,
  world: World,
  log: SagaLog,
): Promise<string> {
  const own =
    scenario.snapshot ?? (world.snapshot === undefined ? undefined : () => world.snapshot?.());
  const stores =
    own === undefined
      ? Object.fromEntries(
          Object.entries(world.stores).map(([name, store]) => {
            const snapshot = (store as { snapshot?: unknown }).snapshot;
            return [name, typeof snapshot === "function" ? snapshot.call(store) : null];
          }),
        )
      : await own(world);
  return canonicalJson({ stores, log: await loadSagas(log) });
}

/**
 * Moves the clock past every lease and recovery backoff in the log, so the next recovery pass may
 * claim whatever is left: what a restarted process finds after its predecessor died.
 */
export async function expireLeases(clock: VirtualClock, log: SagaLog): Promise<void> {
  const records = await log.list({ status: RECOVERABLE_STATUSES });
  let target = clock.now() + 1;
  for (const r of records) {
    target = Math.max(target, (r.leaseExpiresAt ?? 0) + 1, r.nextRecoveryAt);
  }
  clock.advance(target - clock.now());
}
