import { messageOf } from "../core/message-of.js";
import { assertFunction, assertName, describeValue } from "../core/validate.js";
import type { SagaLog } from "../log/saga-log.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import type { SagaSnapshot } from "../model/records.js";
import type { EffectLedger } from "./effect-ledger.js";

/** What an invariant sees when it is checked. */
export interface InvariantContext<World> {
  /** The world `setup` returned, with its stores unwrapped: reading them injects no fault. */
  readonly world: World;
  /** The saga log, unwrapped. */
  readonly log: SagaLog;
  /** Every saga in the log with its entries, ordered by saga id. */
  readonly sagas: readonly SagaSnapshot[];
  /** How many recovery passes have completed when the check runs, from 1. */
  readonly pass: number;
  /** The durable state now (stores and log), as canonical JSON. */
  readonly snapshot: string;
  /** The durable state after the previous completed pass; `undefined` at the first. */
  readonly previousSnapshot: string | undefined;
  /**
   * Every effect the wrapped stores applied, with the step call that made each: what
   * {@link effectsMatchLog} and {@link noDoubleEffect} judge. The explorer and the simulator always
   * give it; pass a {@link FaultInjector}'s `effects` when you check invariants yourself.
   * @default undefined
   */
  readonly effects?: EffectLedger;
}

/** What a check returns: nothing when the invariant holds, else one message per violation. */
export type InvariantResult = undefined | string | readonly string[];

/**
 * What an invariant judges: `"stores"` — what the stores hold, the sagas' effects themselves;
 * `"log"` — only the saga log (or, like `recoveryIdempotent`, only whether anything changed).
 * A run passes only if some invariant judged the stores: a saga can keep every log invariant while
 * its compensation undoes nothing.
 */
export type InvariantReads = "stores" | "log";

/**
 * A property of the durable state that must hold after every recovery pass. A check that throws
 * (a failed `expect`, say) counts as a violation with the thrown message.
 */
export interface Invariant<World = unknown> {
  /** Names the invariant in violation reports. */
  readonly name: string;
  /**
   * What the invariant judges. The explorer and the simulator fail a run in which no invariant
   * judged the stores (see `allowUncheckedStores`).
   * @default unset: the invariant counts as judging the stores if its check reads `world`
   * @example "stores" // for a check that reads the stores through something other than `world`
   */
  readonly reads?: InvariantReads;
  /** Checks the state; returns the violations, if any. */
  check(context: InvariantContext<World>): InvariantResult | Promise<InvariantResult>;
}

/** Options of {@link defineInvariant}. */
export interface DefineInvariantOptions {
  /**
   * What the invariant judges.
   * @default unset: it counts as judging the stores if its check reads `world`
   */
  readonly reads?: InvariantReads;
}

/** One invariant that did not hold. */
export interface InvariantViolation {
  /** The invariant's name. */
  readonly invariant: string;
  /** What was wrong, as a full sentence. */
  readonly message: string;
  /** After which recovery pass it was found. */
  readonly pass: number;
}

/**
 * Defines an invariant from a name and a check.
 *
 * @example
 * ```ts
 * const conserved = defineInvariant<World>("credits are conserved", ({ world }) =>
 *   total(world) === 100 ? undefined : `the total is ${total(world)}, not 100`);
 * const ledger = new Map<string, number>(); // a store the world does not hold
 * const balanced = defineInvariant<World>(
 *   "the ledger balances",
 *   () => ([...ledger.values()].reduce((a, b) => a + b, 0) === 0 ? undefined : "it does not"),
 *   { reads: "stores" }, // it reads a store through something other than `world`
 * );
 * ```
 */
export function defineInvariant<World>(
  name: string,
  check: Invariant<World>["check"],
  options: DefineInvariantOptions = {},
): Invariant<World> {
  assertName("invariant name", name);
  assertFunction(`invariant "${name}": check`, check);
  const reads = options?.reads;
  if (reads !== undefined && reads !== "stores" && reads !== "log") {
    throw new LockstepDefinitionError(
      `Expected \`reads\` of invariant "${name}" to be "stores" or "log", got ${describeValue(reads)}.`,
    );
  }
  return Object.freeze(reads === undefined ? { name, check } : { name, reads, check });
}

/** Throws a definition error unless `invariants` is a list of invariants. */
export function assertInvariants(name: string, invariants: unknown): void {
  if (
    !Array.isArray(invariants) ||
    invariants.some(
      (i) => typeof i?.name !== "string" || typeof (i as Invariant).check !== "function",
    )
  ) {
    throw new LockstepDefinitionError(
      `Expected \`${name}\` to be a list of invariants (objects with \`name\` and \`check\`), got ${describeValue(invariants)}.`,
    );
  }
}

/**
 * Checks every invariant against one context and collects the violations. With `storeReaders`, it
 * also adds to it the name of every invariant that judged the stores: one that declares
 * `reads: "stores"`, or that declares nothing and read `context.world`.
 */
export async function checkInvariants<World>(
  invariants: readonly Invariant<World>[],
  context: InvariantContext<World>,
  storeReaders?: Set<string>,
): Promise<InvariantViolation[]> {
  const violations: InvariantViolation[] = [];
  for (const invariant of invariants) {
    let result: InvariantResult;
    let readWorld = false;
    // An invariant that says nothing about what it reads is judged by what it does.
    const seen =
      storeReaders === undefined || invariant.reads !== undefined
        ? context
        : Object.defineProperty({ ...context }, "world", {
            enumerable: true,
            get: () => {
              readWorld = true;
              return context.world;
            },
          });
    try {
      result = await invariant.check(seen);
    } catch (error) {
      result = `its check threw: ${messageOf(error)}`;
    }
    if (invariant.reads === "stores" || (invariant.reads === undefined && readWorld)) {
      storeReaders?.add(invariant.name);
    }
    const messages = result === undefined ? [] : typeof result === "string" ? [result] : result;
    for (const message of messages) {
      violations.push({ invariant: invariant.name, message, pass: context.pass });
    }
  }
  return violations;
}

/** Every saga in a log with its entries, ordered by saga id. */
export async function loadSagas(log: SagaLog): Promise<SagaSnapshot[]> {
  const records = await log.list();
  const sagas: SagaSnapshot[] = [];
  for (const record of [...records].sort((a, b) => (a.sagaId < b.sagaId ? -1 : 1))) {
    let snapshot: SagaSnapshot | undefined;
    try {
      snapshot = await log.load(record.sagaId);
    } catch {
      // A saga whose entries cannot be read (quarantined) is still a saga: its header is listed.
      snapshot = { record, entries: [] };
    }
    if (snapshot !== undefined) sagas.push(snapshot);
  }
  return sagas;
}
