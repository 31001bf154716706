import type { z } from "zod";
import { hasBrand } from "../model/brand.js";
import type { OutboxMessageInput } from "../model/outbox.js";
import type { StepKind } from "../model/step-kind.js";
import type { CompensationPolicy } from "./compensation-policy.js";
import type { KeyWindow } from "./key-window.js";
import type { RetryPolicy } from "./retry.js";
import type { StepStore } from "./store.js";

/** What every call into a step's code receives. */
export interface StepContext<Input, Outputs, Handle> {
  /** The validated saga input. */
  readonly input: Input;
  /** The validated outputs of the steps before this one, by step name. */
  readonly outputs: Outputs;
  /** The saga's id (a ULID). */
  readonly sagaId: string;
  /**
   * This step's idempotency key: durable before the first attempt and the same on every retry and
   * every recovery. Pass it to external services (a payment capture) so a retry is a no-op.
   */
  readonly key: string;
  /** Which attempt this is, from 1. */
  readonly attempt: number;
  /**
   * The saga's current fencing token: it grows every time another runner takes the saga over. A
   * store that records it with a write can refuse a later write carrying a smaller one, which stops
   * a zombie runner's late write after recovery moved on.
   */
  readonly fencingToken: number;
  /** The handle to write through: the store's root handle, or a transaction's when co-committed. */
  readonly handle: Handle;
  /** Aborts at the deadline or when the run is cancelled. Pass it to every I/O call. */
  readonly signal: AbortSignal;
  /** The absolute deadline of this call, in milliseconds since the epoch. */
  readonly deadline: number;
  /**
   * Where this step's key stands against its store's key window (`keyWindowMs`): when it was
   * first sent, when the provider forgets it, and whether it has. A probe that looks the write up
   * by key must not trust "not found" once `expired`; it asks by another query or cannot tell.
   * `undefined` when the store declares no window.
   */
  readonly keyWindow: KeyWindow | undefined;
}

/** What a compensation receives: the step context plus the output the step committed. */
export interface CompensateContext<Input, Outputs, Handle, Output>
  extends StepContext<Input, Outputs, Handle> {
  /** The output the step committed; the compensation's guard compares the store against it. */
  readonly output: Output;
}

/**
 * What a step's `publish` receives: the saga input, the outputs before the step, and the output the
 * step committed, whether execute returned it, its probe found it, or a recovery read it back.
 */
export interface PublishContext<Input, Outputs, Output> {
  /** The validated saga input. */
  readonly input: Input;
  /** The validated outputs of the steps before this one, by step name. */
  readonly outputs: Outputs;
  /** The output the step committed, as its schema parsed it. */
  readonly output: Output;
  /** The saga's id. */
  readonly sagaId: string;
  /** The step's idempotency key. */
  readonly key: string;
}

/** What a probe found: a fresh read of the authoritative state, never a cache. */
export type ProbeResult<Output> =
  | { readonly status: "committed"; readonly output: Output }
  | { readonly status: "not_committed" }
  | { readonly status: "unknown"; readonly reason?: string };

/** The probe found the step's write; `output` is what execute would have returned. */
export function committed<Output>(output: Output): ProbeResult<Output> {
  return { status: "committed", output };
}
/** The probe proved the step's write did not land. */
export function notCommitted(): ProbeResult<never> {
  return { status: "not_committed" };
}
/** The probe cannot tell; the saga is parked in doubt and probed again by the recoverer. */
export function cannotTell(reason?: string): ProbeResult<never> {
  return reason === undefined ? { status: "unknown" } : { status: "unknown", reason };
}

/** What a compensation did. */
export type CompensationResult =
  | { readonly status: "compensated" }
  | { readonly status: "guard_failed"; readonly reason: string };

/** The compensation undid the step (or found it already undone: compensations are idempotent). */
export function compensated(): CompensationResult {
  return { status: "compensated" };
}
/**
 * The compensation's guard found state it did not write (another writer moved on), so it wrote
 * nothing. The saga ends `needs_attention` naming the step and this reason.
 */
export function guardFailed(reason: string): CompensationResult {
  return { status: "guard_failed", reason };
}

const ESCALATION_BRAND = Symbol.for("lockstep.escalation");

/**
 * Thrown by {@link escalate}: a step found the world in a state no retry or compensation can put
 * right (an escrow voided under a live bounty), so the saga stops, undoes nothing, and ends
 * `needs_attention` with this message.
 */
export class EscalationError extends Error {
  readonly [ESCALATION_BRAND] = true;
  constructor(message: string) {
    super(message);
    this.name = "EscalationError";
  }
  /** Recognizes an escalation from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is EscalationError {
    return hasBrand(value, ESCALATION_BRAND);
  }
}

/**
 * Stops the saga for a person: call it from `execute` when the step finds state that neither a retry
 * nor a compensation can repair. Nothing is compensated; the saga ends `needs_attention` (reason
 * `escalated`) with `message`, which should name the records involved.
 *
 * @example
 * ```ts
 * if (reservation.status !== "held") escalate(`bounty ${id} cannot be settled: its escrow is ${reservation.status}`);
 * ```
 */
export function escalate(message: string): never {
  throw new EscalationError(message);
}

/** The configuration of one step, as passed to `SagaBuilder.step`. */
export interface StepConfig<
  Input,
  Outputs,
  Handle,
  Schema extends z.ZodType,
  Kind extends StepKind = StepKind,
> {
  /** The store this step writes to. Its capabilities decide the step's strategy. */
  readonly store: StepStore<Handle>;
  /** Where the step stands relative to the point of no return. */
  readonly kind: Kind;
  /** Validates the step's output, from execute and from probe, before it is logged or passed on. */
  readonly output: Schema;
  /** Performs the write. Throw (a {@link StoreError} when you know the kind) to fail. */
  readonly execute: (
    ctx: StepContext<Input, Outputs, Handle>,
  ) => Promise<z.input<Schema>> | z.input<Schema>;
  /**
   * Reads the authoritative state to decide whether the write landed. Required for compensatable and
   * pivot steps; optional for retriable ones, which re-execute with the same key instead.
   */
  readonly probe?: (
    ctx: StepContext<Input, Outputs, Handle>,
  ) => Promise<ProbeResult<z.input<Schema>>> | ProbeResult<z.input<Schema>>;
  /** Undoes the write, guarded by compare-and-set. Required for, and only for, compensatable steps. */
  readonly compensate?: (
    ctx: CompensateContext<Input, Outputs, Handle, z.output<Schema>>,
  ) => Promise<CompensationResult> | CompensationResult;
  /**
   * Declares that execute is idempotent by the step's key: running it again after an outcome the
   * runner could not see changes nothing more. A retriable step without a probe relies on this;
   * explain plans report such a step as a gap unless it is declared. A retriable step that declares
   * it (or has no probe) is executed again by its key after a crash, so its write-ahead intent is
   * not written on its own but with its outcome: one log write fewer per run.
   * @default false
   */
  readonly idempotent?: boolean;
  /**
   * Retry policy for execute, merged over the runner's defaults; also for compensate, unless a
   * compensation policy says otherwise (see `compensation`).
   */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * Deadline of each execute call, in milliseconds; also of each compensate call, unless a
   * compensation policy says otherwise (see `compensation`).
   * @default the runner's `timeoutMs` (10000)
   */
  readonly timeoutMs?: number;
  /**
   * How this step's compensation is retried and how long each compensate call may take, apart from
   * execute. Only for compensatable steps. Each value left unset comes from the runner's
   * `compensation`, then from this step's `retry` and `timeoutMs`.
   * @default the runner's `compensation`; without one, the same retry and deadline as execute
   * @example { retry: { attempts: 8, maxDelayMs: 30_000 }, timeoutMs: 20_000 }
   */
  readonly compensation?: CompensationPolicy;
  /**
   * Deadline of each probe call, in milliseconds.
   * @default the step's `timeoutMs`
   */
  readonly probeTimeoutMs?: number;
  /**
   * The outbox messages the step's commit announces, computed from its committed output. They are
   * recorded in the same write as the commit: inside the step's transaction when the step
   * co-commits with the log, otherwise with the log write that records the commit. A relay
   * (`lockstep/outbox`) then delivers each at least once, with the stable id
   * `<sagaId>:<step>:<index>`. Keep it pure: it runs again whenever the commit is recorded, from
   * execute's output or from the probe's. A message JSON cannot hold (a BigInt, a cycle) is refused
   * before anything commits with it, naming the value. Only for the pivot and retriable steps: a
   * message from a step that may still be compensated would announce what could be undone.
   * @default no messages
   * @example ({ output, input }) => [{ topic: "orders.placed", message: { orderId: output.orderId, total: input.total } }]
   */
  readonly publish?: (
    ctx: PublishContext<Input, Outputs, z.output<Schema>>,
  ) => readonly OutboxMessageInput[];
}

/** A step as stored in a saga definition, with its types erased for the runner. */
export interface StepDefinition {
  readonly name: string;
  readonly kind: StepKind;
  readonly store: StepStore<unknown>;
  readonly output: z.ZodType;
  readonly execute: (ctx: StepContext<unknown, unknown, unknown>) => unknown;
  readonly probe: ((ctx: StepContext<unknown, unknown, unknown>) => unknown) | undefined;
  readonly compensate:
    | ((ctx: CompensateContext<unknown, unknown, unknown, unknown>) => unknown)
    | undefined;
  readonly retry: Partial<RetryPolicy> | undefined;
  /** Whether execute is declared idempotent by the step's key. */
  readonly idempotent: boolean;
  readonly timeoutMs: number | undefined;
  readonly probeTimeoutMs: number | undefined;
  /** How the step's compensation is retried and timed, as the step declares it. */
  readonly compensation: CompensationPolicy | undefined;
  /** The step's outbox messages, from its committed output; `undefined` when it publishes none. */
  readonly publish:
    | ((ctx: PublishContext<unknown, unknown, unknown>) => readonly OutboxMessageInput[])
    | undefined;
}
