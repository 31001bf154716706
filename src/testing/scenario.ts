import type { RetryPolicy } from "../core/retry.js";
import type { Saga, SagaRawInput } from "../core/saga.js";
import type { StepDefinition } from "../core/step.js";
import { assertFunction, assertInteger, describeValue } from "../core/validate.js";
import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { RecovererOptions } from "../recovery/recoverer.js";
import type { EffectLedger } from "./effect-ledger.js";
import type { Invariant } from "./invariant.js";
import { VirtualClock } from "./virtual-clock.js";
import type { FaultableStore } from "./with-faults.js";

// biome-ignore lint/suspicious/noExplicitAny: a scenario runs sagas of every input and output type.
export type AnySaga = Saga<any, any>;

/** What a scenario's `setup` returns: fresh stores, and anything else its invariants need. */
export interface ScenarioWorld {
  /**
   * The stores the saga writes to, by any name. The kit wraps each one (faults, crash boundaries,
   * scheduling) before it builds the saga, and hands invariants the unwrapped ones.
   */
  readonly stores: Readonly<Record<string, FaultableStore>>;
  /**
   * The saga log to record to, fresh like the stores.
   * @default a new `MemorySagaLog`
   */
  readonly log?: SagaLog;
  /**
   * The durable state of the stores, compared between recovery passes to show a second pass
   * changes nothing (the log is always compared too). The scenario's own `snapshot` wins over it.
   * @default every store's `snapshot()`, for stores that have one (memory stores do)
   */
  readonly snapshot?: () => unknown;
}

/**
 * A saga under test and how to build a fresh world for it. Shared by {@link exploreCrashPoints},
 * {@link simulate} and {@link raceSagas}.
 */
export interface Scenario<World extends ScenarioWorld, S extends AnySaga> {
  /** Builds a fresh world: new stores (and log), seeded with the data the saga needs. */
  readonly setup: () => World | Promise<World>;
  /**
   * The saga, or a function that builds it from a world whose `stores` are the wrapped ones. A
   * function is the safest form: it is called once per simulated process, and step code that
   * closes over a store (to open a transaction, say) gets the wrapped one. A saga given as a value
   * has each step's store replaced by the wrapped store with the same id, so its step code must
   * write through `ctx.handle`.
   */
  readonly saga: S | ((world: World) => S);
  /** The saga's input, or a function of the world and the run's index (from 0). */
  readonly input: SagaRawInput<S> | ((world: World, run: number) => SagaRawInput<S>);
  /**
   * Checked after every completed recovery pass. The standard invariants are added unless
   * `standardInvariants` is `false`, but they read only the log: at least one invariant must judge
   * the stores, or the run fails (see `allowUncheckedStores`). Start from `allOrNothing`,
   * with one predicate per store.
   * @default []
   * @example [allOrNothing<World>({ hold: (w, saga) => holdOf(w, saga) !== undefined, order: (w, saga) => orderOf(w, saga) !== undefined })]
   */
  readonly invariants?: readonly Invariant<World>[];
  /**
   * Lets a run in which no invariant judged the stores pass. Such a run checks only the log, which
   * a saga whose compensation undoes nothing keeps perfectly; its report still says
   * `storesChecked: false` and carries a warning. Meant for tests of the log itself.
   * @default false
   */
  readonly allowUncheckedStores?: boolean;
  /**
   * Whether to add {@link standardInvariants}: every saga terminal, the log well formed, no step
   * compensated twice, recovery idempotent.
   * @default true
   */
  readonly standardInvariants?: boolean;
  /**
   * Whether to add the effect invariants, {@link effectsMatchLog} and {@link noDoubleEffect}, which
   * compare every effect the wrapped stores applied with what the log says of its step.
   * @default true
   */
  readonly effectInvariants?: boolean;
  /**
   * The durable state of the stores, compared between recovery passes (the log is always
   * compared too).
   * @default the world's own `snapshot()`, else every store's `snapshot()` for stores that have one
   * (memory stores do)
   */
  readonly snapshot?: (world: World) => unknown;
  /**
   * Handle methods that only read: faults still hit them, but they are not crash boundaries.
   * @default []
   * @example ["get", "list"]
   */
  readonly reads?: readonly string[];
  /**
   * The lease of every runner and recoverer, in (virtual) milliseconds.
   * @default 30000
   */
  readonly leaseTtlMs?: number;
  /**
   * The default deadline of step calls, in (virtual) milliseconds.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /** The runners' default retry policy. @default the runner's own */
  readonly retry?: Partial<RetryPolicy>;
  /** Options of every recoverer. @default the recoverer's own */
  readonly recoverer?: Pick<RecovererOptions, "maxAttempts" | "backoff">;
  /**
   * `setImmediate` turns that make the program idle before virtual time moves. One is enough for
   * stores whose calls are promise chains (memory stores, better-sqlite3); for stores that wait on
   * real I/O, set `realIo` instead.
   * @default 1
   */
  readonly idleTurns?: number;
  /**
   * Whether the stores (or the log) do real I/O: Postgres, Redis, HTTP. Every call that reaches
   * them then counts as in flight on the virtual clock, which neither moves time nor releases a
   * held call until every call in flight has answered. A call takes no virtual time however long
   * the database takes, so a deadline fires only where the schedule says (an injected `hang`), and
   * the same schedule has the same outcome on every run. All the saga's I/O must go through the
   * world's stores and log for this: anything else still looks idle.
   * @default false
   */
  readonly realIo?: boolean;
  /**
   * With `realIo`, how long (in real milliseconds) the kit waits for calls in flight before it goes
   * on as if the program were idle. Only a call that cannot finish before another simulated process
   * moves (one blocked on a row lock that process holds) waits that long; a schedule in which it
   * happened may depend on timing.
   * @default 10000
   */
  readonly ioStallMs?: number;
  /**
   * The id of the saga run `i` (from 0) starts, so runs are reproducible.
   * @default `saga-${i + 1}`
   */
  readonly sagaId?: (run: number) => string;
}

/** Validates the parts of a scenario every tool shares; throws a definition error naming the bad one. */
export function checkScenario(scenario: Scenario<ScenarioWorld, AnySaga>, tool: string): void {
  if (typeof scenario !== "object" || scenario === null) {
    throw new LockstepDefinitionError(
      `Expected the options of ${tool} to be an object, got ${describeValue(scenario)}.`,
    );
  }
  assertFunction(`${tool}: setup`, scenario.setup);
  const saga = scenario.saga as unknown;
  if (
    typeof saga !== "function" &&
    !(typeof saga === "object" && saga !== null && Array.isArray((saga as Saga).steps))
  ) {
    throw new LockstepDefinitionError(
      `Expected \`saga\` of ${tool} to be a saga made by defineSaga or a function of the world that builds one, got ${describeValue(saga)}.`,
    );
  }
  if (scenario.leaseTtlMs !== undefined)
    assertInteger(`${tool}: leaseTtlMs`, scenario.leaseTtlMs, 1);
  if (scenario.timeoutMs !== undefined) assertInteger(`${tool}: timeoutMs`, scenario.timeoutMs, 1);
  if (scenario.idleTurns !== undefined) assertInteger(`${tool}: idleTurns`, scenario.idleTurns, 1);
  if (scenario.ioStallMs !== undefined) assertInteger(`${tool}: ioStallMs`, scenario.ioStallMs, 1);
  if (scenario.snapshot !== undefined) assertFunction(`${tool}: snapshot`, scenario.snapshot);
  if (scenario.sagaId !== undefined) assertFunction(`${tool}: sagaId`, scenario.sagaId);
  for (const key of ["allowUncheckedStores", "realIo", "effectInvariants"] as const) {
    if (scenario[key] !== undefined && typeof scenario[key] !== "boolean") {
      throw new LockstepDefinitionError(
        `Expected \`${key}\` of ${tool} to be a boolean, got ${describeValue(scenario[key])}.`,
      );
    }
  }
}

/** Checks what `setup` returned. */
export function checkWorld(world: unknown, tool: string): asserts world is ScenarioWorld {
  const stores = (world as { stores?: unknown } | null | undefined)?.stores;
  if (typeof stores !== "object" || stores === null) {
    throw new LockstepDefinitionError(
      `Expected \`setup\` of ${tool} to return an object with \`stores\`, got ${describeValue(world)}.`,
    );
  }
}

/**
 * The saga for one simulated process: built from the wrapped world, or, for a saga given as a
 * value, with each step's store swapped for the wrapped store of the same id. With `effects`, its
 * steps are traced, so the effects each step call makes are attributed to it.
 */
export function sagaFor<World extends ScenarioWorld>(
  scenario: Scenario<World, AnySaga>,
  wrapped: World,
  effects?: EffectLedger,
): AnySaga {
  const saga = untracedSagaFor(scenario, wrapped);
  return effects === undefined ? saga : effects.trace(saga);
}

function untracedSagaFor<World extends ScenarioWorld>(
  scenario: Scenario<World, AnySaga>,
  wrapped: World,
): AnySaga {
  const stores = Object.values(wrapped.stores);
  if (typeof scenario.saga === "function") {
    const saga = scenario.saga(wrapped) as AnySaga;
    for (const step of saga.steps as readonly StepDefinition[]) {
      if (!stores.includes(step.store as unknown as FaultableStore)) {
        throw new LockstepDefinitionError(
          `Step "${step.name}" of saga "${saga.name}" writes to store "${step.store.id}", which is not one of the stores the saga function was given; build the saga from \`world.stores\`.`,
        );
      }
    }
    return saga;
  }
  const saga = scenario.saga as AnySaga;
  const byId = new Map(stores.map((s) => [s.id, s]));
  const steps = (saga.steps as readonly StepDefinition[]).map((step) => {
    const store = byId.get(step.store.id);
    if (store === undefined) {
      throw new LockstepDefinitionError(
        `Step "${step.name}" of saga "${saga.name}" writes to store "${step.store.id}", which is not among the stores \`setup\` returned.`,
      );
    }
    return Object.freeze({ ...step, store: store as unknown as StepDefinition["store"] });
  });
  return Object.freeze({ ...saga, steps: Object.freeze(steps) }) as AnySaga;
}

/** The virtual clock of one schedule, set up as the scenario says. */
export function scheduleClock(
  scenario: Pick<Scenario<ScenarioWorld, AnySaga>, "idleTurns" | "ioStallMs">,
): VirtualClock {
  return new VirtualClock(undefined, {
    idleTurns: scenario.idleTurns ?? 1,
    ...(scenario.ioStallMs === undefined ? {} : { ioStallMs: scenario.ioStallMs }),
  });
}

/** The input of run `run`. */
export function inputFor<World extends ScenarioWorld>(
  scenario: Scenario<World, AnySaga>,
  world: World,
  run: number,
): unknown {
  const input = scenario.input as unknown;
  return typeof input === "function"
    ? (input as (world: World, run: number) => unknown)(world, run)
    : input;
}

/** The saga id of run `run`. */
export function sagaIdFor(
  scenario: { readonly sagaId?: (run: number) => string },
  run: number,
): string {
  return scenario.sagaId?.(run) ?? `saga-${run + 1}`;
}
