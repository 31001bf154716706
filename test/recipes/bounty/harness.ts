import {
  createRunner,
  MemorySagaLog,
  type Runner,
  type SagaLog,
  StoreError,
} from "../../../src/index.js";
import {
  type BountyPorts,
  type BountySagas,
  bountySagas,
  checkBountyInvariants,
  reconcileBounties,
} from "../../../src/recipes/bounty/index.js";
import { createMemoryBountyPorts } from "../../../src/recipes/bounty/memory-world.js";
import { SimulatedCrash } from "../../../src/testing/crash-switch.js";
import { DueClock, IDLE_TURNS, type IoTracker, runWithIo } from "./real-io.js";

export type PortName = "bounties" | "claims" | "credits";
export const BALANCES = { alice: 100, bob: 50, carol: 0 } as const;
export const TOTAL = 150;
export const LEASE_TTL = 5_000;

/** A fault on one port method: `pre` fails before the effect; `post` lets it land, then fails. */
export interface Fault {
  readonly port: PortName;
  readonly method: string;
  readonly when: "pre" | "post";
  readonly error?: unknown;
  /** How many times it fires. @default 1 */
  readonly times?: number;
  /** Runs when it fires, before the error is thrown: another writer acting at that moment. */
  readonly meanwhile?: () => Promise<void>;
}

/**
 * Arms a `post` fault inside the store itself, just before `port.method` runs: e.g. the HTTP
 * flavour makes the status-index request after the document write fail, so the call fails for
 * real after its write committed. Returns a function that says whether the armed fault fired during
 * the call (and disarms it), or `undefined` when the flavour has no such fault for that method.
 */
export type ArmPostFault = (port: PortName, method: string) => (() => boolean) | undefined;

/** Hooks around every port call, before and after its effect. */
interface PortHooks {
  /** Resolves to what settles an armed `post` fault once the call is over, if one was armed. */
  before(
    port: PortName,
    method: string,
    handle: unknown,
  ): Promise<(() => Promise<boolean>) | undefined>;
  after(port: PortName, method: string, handle: unknown): Promise<void>;
}

function hookPorts(raw: BountyPorts, hooks: PortHooks): BountyPorts {
  const hook = <P extends object>(name: PortName, port: P): P =>
    new Proxy(port, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return async (handle: unknown, ...rest: unknown[]) => {
          const armed = await hooks.before(name, property, handle);
          let result: unknown;
          try {
            result = await value.call(target, handle, ...rest);
          } catch (error) {
            await armed?.();
            throw error;
          }
          // An armed fault that did not fire is left to fire generically, after the call.
          await armed?.();
          await hooks.after(name, property, handle);
          return result;
        };
      },
    });
  return {
    bounties: hook("bounties", raw.bounties),
    claims: hook("claims", raw.claims),
    credits: hook("credits", raw.credits),
  };
}

/** What a flavour adds to its world beyond ports and a log. */
export interface WorldOptions {
  /**
   * Counts requests to real services on the wire; given, the virtual clock never moves while one is
   * in flight (see `runWithIo`).
   */
  readonly io?: IoTracker;
  /** Makes `post` faults happen inside the store; see {@link ArmPostFault}. */
  readonly armPost?: ArmPostFault;
}

/** One store flavour's world: hooked ports, a log, a virtual clock, faults and crashes. */
export class BountyWorld {
  readonly clock = new DueClock(undefined, { idleTurns: IDLE_TURNS });
  readonly ports: BountyPorts;
  readonly sagas: BountySagas;
  /** The boundary the simulated process dies at: a name like `"after credits.reserve"`, or a count. */
  crashAt: string | number | undefined;
  /** Whether the simulated process has died; from then on every boundary throws. */
  crashed = false;
  /** Every boundary passed, in order. */
  readonly boundaries: string[] = [];
  readonly #faults: { fault: Fault; fired: number }[] = [];
  /** Calls that are only counted, e.g. how many captures ran. */
  readonly calls = new Map<string, number>();

  constructor(
    readonly flavour: string,
    readonly raw: BountyPorts,
    readonly log: SagaLog,
    /** How a `post` fault shows itself on this flavour; by default, the call fails after landing. */
    private readonly postFault: (handle: unknown, error: unknown) => Promise<void> = async (
      _h,
      error,
    ) => {
      throw error;
    },
    readonly close: () => Promise<void> = async () => {},
    private readonly options: WorldOptions = {},
  ) {
    this.ports = hookPorts(raw, {
      before: async (port, method) => {
        this.#boundary(`before ${port}.${method}`);
        this.calls.set(`${port}.${method}`, (this.calls.get(`${port}.${method}`) ?? 0) + 1);
        const hit = this.#take(port, method, "pre");
        if (hit) {
          await hit.meanwhile?.();
          throw hit.error;
        }
        return this.#arm(port, method);
      },
      after: async (port, method, handle) => {
        this.#boundary(`after ${port}.${method}`);
        const hit = this.#take(port, method, "post");
        if (hit) {
          await hit.meanwhile?.();
          await this.postFault(handle, hit.error);
        }
      },
    });
    this.sagas = bountySagas(this.ports, { clock: this.clock, claimLeaseMs: 3_600_000 });
  }

  /** Installs a fault; returns how often it fired. */
  fault(fault: Fault): { readonly fired: () => number } {
    const entry = { fault, fired: 0 };
    this.#faults.push(entry);
    return { fired: () => entry.fired };
  }

  /** Removes every fault. */
  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** A runner on this world's log and clock; its log calls are crash points too. */
  runner(owner?: string): Runner {
    const log = new Proxy(this.log, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function" || typeof property !== "string") return value;
        return async (...args: unknown[]) => {
          this.#boundary(`before log.${property}`);
          const result = await value.apply(target, args);
          this.#boundary(`after log.${property}`);
          return result;
        };
      },
    });
    return createRunner({
      log,
      clock: this.clock,
      leaseTtlMs: LEASE_TTL,
      random: () => 0.5,
      ...(owner ? { owner } : {}),
    });
  }

  /** Runs a promise on the virtual clock (which waits for real requests on the wire, if any). */
  run<T>(promise: PromiseLike<T>): Promise<T> {
    const io = this.options.io;
    return io === undefined ? this.clock.run(promise) : runWithIo(this.clock, io, promise);
  }

  /** A fresh process's reconciliation: no faults, no crash switch, every lease lapsed. */
  async reconcile() {
    this.clearFaults();
    this.crashAt = undefined;
    this.crashed = false;
    this.clock.advance(LEASE_TTL + 1);
    const runner = createRunner({
      log: this.log,
      clock: this.clock,
      leaseTtlMs: LEASE_TTL,
      random: () => 0.5,
    });
    return (
      await this.run(
        reconcileBounties({
          runner,
          sagas: bountySagas(this.raw, { clock: this.clock }),
          ports: this.raw,
        }),
      )
    )._unsafeUnwrap();
  }

  /** Every invariant over the authoritative state. */
  violations(afterRecovery = true) {
    return checkBountyInvariants(this.raw, { expectedTotal: TOTAL, afterRecovery });
  }

  #boundary(name: string): void {
    if (this.crashed) throw new SimulatedCrash(name);
    this.boundaries.push(name);
    if (name === this.crashAt || this.boundaries.length === this.crashAt) {
      this.crashed = true;
      throw new SimulatedCrash(name);
    }
  }

  /** Arms the flavour's own `post` fault for this call, if one is due and the flavour has one. */
  #arm(port: PortName, method: string): (() => Promise<boolean>) | undefined {
    const armPost = this.options.armPost;
    if (armPost === undefined) return undefined;
    const entry = this.#pending(port, method, "post");
    if (entry === undefined) return undefined;
    const fired = armPost(port, method);
    if (fired === undefined) return undefined;
    return async () => {
      if (!fired()) return false;
      entry.fired++;
      await entry.fault.meanwhile?.();
      return true;
    };
  }

  #pending(port: PortName, method: string, when: "pre" | "post") {
    return this.#faults.find(
      (f) =>
        f.fault.port === port &&
        f.fault.method === method &&
        f.fault.when === when &&
        f.fired < (f.fault.times ?? 1),
    );
  }

  #take(
    port: PortName,
    method: string,
    when: "pre" | "post",
  ): { error: unknown; meanwhile?: () => Promise<void> } | undefined {
    const entry = this.#pending(port, method, when);
    if (entry === undefined) return undefined;
    entry.fired++;
    const error =
      entry.fault.error ??
      (when === "pre"
        ? new StoreError("not_committed", `${port}.${method} refused (injected)`)
        : new Error(`${port}.${method}: response lost (injected)`));
    return entry.fault.meanwhile ? { error, meanwhile: entry.fault.meanwhile } : { error };
  }
}

/** How to build each store flavour's world. */
export interface Flavour {
  readonly name: string;
  /**
   * `"transaction"` when every port and the log share one transactional database, so each
   * operation commits as one transaction and nothing is ever compensated; `"saga"` otherwise.
   */
  readonly strategy: "transaction" | "saga";
  /**
   * The ports whose steps commit in one transaction with their saga-log records ("co_committed" in
   * a report): a crash or fault inside such a call rolls it back with its log record.
   * @default every port when `strategy` is `"transaction"`, none otherwise
   */
  readonly coCommitted?: readonly PortName[];
  /**
   * Whether the bounty store keeps a secondary index written after each bounty write, which a
   * `post` fault on that write leaves stale until a recovery pass repairs it (I8).
   * @default false
   */
  readonly secondaryIndex?: boolean;
  /** Builds a fresh world: its own stores, log and clock. */
  readonly setup: () => Promise<BountyWorld>;
}

/** The ports of `flavour` whose steps are co-committed with the saga log. */
export function coCommittedPorts(flavour: Flavour): readonly PortName[] {
  return (
    flavour.coCommitted ??
    (flavour.strategy === "transaction" ? ["bounties", "claims", "credits"] : [])
  );
}

export const memoryFlavour: Flavour = {
  name: "memory",
  strategy: "saga",
  setup: async () =>
    new BountyWorld(
      "memory",
      await createMemoryBountyPorts({ balances: BALANCES }),
      new MemorySagaLog(),
    ),
};
