import type { z } from "zod";
import type { SagaDefinition } from "../model/definition.js";
import { LockstepDefinitionError } from "../model/definition-error.js";
import { OPERATOR_STEP } from "../model/records.js";
import { StepKind } from "../model/step-kind.js";
import { type CompensationPolicy, checkCompensationPolicy } from "./compensation-policy.js";
import { resolveRetry } from "./retry.js";
import type { StepConfig, StepDefinition } from "./step.js";
import {
  assertDuration,
  assertFunction,
  assertInteger,
  assertName,
  describeValue,
} from "./validate.js";

/**
 * A saga's shape as plain data: logged with every saga, and compared with the log on recovery. The
 * same type the log's record schema infers ({@link SagaDefinition}), under the name it has always had.
 */
export type SagaDefinitionData = SagaDefinition;

const OUTPUTS = Symbol("outputs");

/**
 * A defined saga: its input schema, its steps in order, and its shape as data. Built by
 * {@link defineSaga}; run by a runner.
 */
export interface Saga<Schema extends z.ZodType = z.ZodType, Outputs = Record<string, unknown>> {
  /** The saga's stable name, recorded in the log. */
  readonly name: string;
  /** The definition version, recorded in the log; bump it when steps change. */
  readonly version: number;
  /** Validates the saga input before anything is written. */
  readonly input: Schema;
  /** The steps, in order. */
  readonly steps: readonly StepDefinition[];
  /** The index of the first step that runs only forward: the one after the pivot. */
  readonly forwardFrom: number;
  /** The saga's shape as plain data. */
  readonly definition: SagaDefinitionData;
  /** What happens to the saga when it stops before its pivot; see {@link DefineSagaOptions.recovery}. */
  readonly recovery: SagaRecoveryPolicy;
  /** Carries the outputs type; never present at run time. */
  readonly [OUTPUTS]?: Outputs;
}

/** The validated input type of a saga. */
export type SagaInput<S> = S extends Saga<infer Schema, unknown> ? z.output<Schema> : never;
/** The raw input type a saga accepts before validation. */
export type SagaRawInput<S> = S extends Saga<infer Schema, unknown> ? z.input<Schema> : never;
/** The outputs of a saga's steps, by step name. */
export type SagaOutputs<S> = S extends Saga<z.ZodType, infer Outputs> ? Outputs : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Adds steps one at a time, inferring each step's view of earlier outputs. */
export interface SagaBuilder<Schema extends z.ZodType, Outputs> {
  /**
   * Appends a step. Its `execute`, `probe` and `compensate` see the validated saga input and the
   * typed outputs of the steps before it. Throws a {@link LockstepDefinitionError} when the step breaks
   * the saga's shape (compensatable* → at most one pivot → retriable*) or misses a required function.
   */
  step<const Name extends string, Handle, OutSchema extends z.ZodType>(
    name: Name,
    config: StepConfig<z.output<Schema>, Outputs, Handle, OutSchema>,
  ): SagaBuilder<Schema, Simplify<Outputs & { readonly [K in Name]: z.output<OutSchema> }>>;
  /** Finishes the definition. Throws when the saga has no steps. */
  build(): Saga<Schema, Outputs>;
}

/**
 * What happens to a saga that stops before its pivot without a definitive refusal (a transient
 * failure that outlived its retries, a crash): `"compensate"` unwinds it; `"roll_forward"` keeps
 * its committed steps and has the recoverer retry forward, compensating only when a step is
 * definitively refused (`not_committed` or `conflict`).
 */
export type SagaRecoveryPolicy = "compensate" | "roll_forward";

/** Options of {@link defineSaga}. */
export interface DefineSagaOptions<Schema extends z.ZodType> {
  /** The schema the saga input must satisfy. */
  readonly input: Schema;
  /**
   * The definition version, recorded with every saga in the log.
   * @default 1
   */
  readonly version?: number;
  /**
   * What happens to the saga when it stops before its pivot.
   * @default "compensate"
   * @example "roll_forward" // a settlement whose capture is only delayed must not be unwound
   */
  readonly recovery?: SagaRecoveryPolicy;
}

/**
 * Starts defining a saga.
 *
 * @example
 * ```ts
 * const transfer = defineSaga("transfer", { input: z.object({ amount: z.number().int().positive() }) })
 *   .step("debit", { store: ledger, kind: "compensatable", output: z.object({ entryId: z.string() }),
 *     execute: ({ input, key }) => debit(key, input.amount),
 *     probe: ({ key }) => findEntry(key),
 *     compensate: ({ output }) => reverseIfUnchanged(output.entryId) })
 *   .step("credit", { store: bank, kind: "pivot", output: z.object({ ok: z.literal(true) }),
 *     execute: ({ input, key }) => credit(key, input.amount),
 *     probe: ({ key }) => findCredit(key) })
 *   .build();
 * ```
 */
export function defineSaga<Schema extends z.ZodType>(
  name: string,
  options: DefineSagaOptions<Schema>,
): SagaBuilder<Schema, Record<never, never>> {
  assertName("saga name", name);
  if (typeof options?.input?.safeParse !== "function") {
    throw new LockstepDefinitionError(
      `Saga "${name}" needs an \`input\` zod schema, got ${describeValue(options?.input)}.`,
    );
  }
  const version = options.version ?? 1;
  assertInteger(`saga "${name}" version`, version, 1);
  const recovery = options.recovery ?? "compensate";
  if (recovery !== "compensate" && recovery !== "roll_forward") {
    throw new LockstepDefinitionError(
      `Expected the recovery of saga "${name}" to be "compensate" or "roll_forward", got ${describeValue(recovery)}.`,
    );
  }
  return builder(name, version, options.input, recovery, []);
}

const KINDS: readonly string[] = Object.values(StepKind);

function builder<Schema extends z.ZodType, Outputs>(
  sagaName: string,
  version: number,
  input: Schema,
  recovery: SagaRecoveryPolicy,
  steps: readonly StepDefinition[],
): SagaBuilder<Schema, Outputs> {
  return {
    step(name, config) {
      const step = checkStep(sagaName, steps, name, config as unknown as Record<string, unknown>);
      return builder(sagaName, version, input, recovery, [...steps, step]);
    },
    build() {
      if (steps.length === 0) {
        throw new LockstepDefinitionError(
          `Saga "${sagaName}" has no steps; add at least one with .step().`,
        );
      }
      return freezeSaga<Schema, Outputs>(sagaName, version, input, recovery, steps);
    },
  };
}

function freezeSaga<Schema extends z.ZodType, Outputs>(
  name: string,
  version: number,
  input: Schema,
  recovery: SagaRecoveryPolicy,
  steps: readonly StepDefinition[],
): Saga<Schema, Outputs> {
  const pivot = steps.findIndex((s) => s.kind === StepKind.Pivot);
  const firstRetriable = steps.findIndex((s) => s.kind === StepKind.Retriable);
  const forwardFrom = pivot >= 0 ? pivot + 1 : firstRetriable >= 0 ? firstRetriable : steps.length;
  const definition: SagaDefinitionData = Object.freeze({
    name,
    version,
    steps: Object.freeze(
      steps.map((s) =>
        Object.freeze({
          name: s.name,
          kind: s.kind,
          store: s.store.id,
          probe: s.probe !== undefined,
          compensate: s.compensate !== undefined,
        }),
      ),
    ),
  });
  return Object.freeze({
    name,
    version,
    input,
    steps: Object.freeze([...steps]),
    forwardFrom,
    definition,
    recovery,
  });
}

function checkStep(
  saga: string,
  previous: readonly StepDefinition[],
  name: unknown,
  config: Record<string, unknown>,
): StepDefinition {
  assertName(`step name in saga "${saga}"`, name);
  const where = `step "${name}" of saga "${saga}"`;
  if (name === OPERATOR_STEP) {
    throw new LockstepDefinitionError(
      `A step cannot be named "${OPERATOR_STEP}": the log uses that name for what operators do to a saga.`,
    );
  }
  if (previous.some((s) => s.name === name)) {
    throw new LockstepDefinitionError(
      `Saga "${saga}" already has a step named "${name}"; step names must be unique.`,
    );
  }
  if (typeof config !== "object" || config === null) {
    throw new LockstepDefinitionError(
      `Expected the configuration of ${where} to be an object, got ${describeValue(config)}.`,
    );
  }
  const kind = config.kind;
  if (typeof kind !== "string" || !KINDS.includes(kind)) {
    throw new LockstepDefinitionError(
      `Expected the kind of ${where} to be one of ${KINDS.join(", ")}, got ${describeValue(kind)}.`,
    );
  }
  const store = config.store as { id?: unknown; capabilities?: unknown } | undefined;
  if (typeof store?.id !== "string" || typeof store.capabilities !== "object") {
    throw new LockstepDefinitionError(
      `Expected the store of ${where} to be a store made by defineStore, got ${describeValue(store)}.`,
    );
  }
  if (typeof (config.output as { safeParse?: unknown } | undefined)?.safeParse !== "function") {
    throw new LockstepDefinitionError(
      `Expected the output of ${where} to be a zod schema, got ${describeValue(config.output)}.`,
    );
  }
  assertFunction(`${where}: execute`, config.execute);
  checkOrder(saga, previous, name, kind as StepKind);
  if (kind === StepKind.Compensatable && config.compensate === undefined) {
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is compensatable but has no compensate function; give it one, or make it the pivot.`,
    );
  }
  if (kind !== StepKind.Compensatable && config.compensate !== undefined) {
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is ${kind} and so is never compensated, but it has a compensate function; remove it or make the step compensatable.`,
    );
  }
  if (kind !== StepKind.Retriable && config.probe === undefined) {
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is ${kind} but has no probe; without one, an outcome the runner cannot see (a timeout, a lost response) could never be resolved, and the step could be compensated after it committed.`,
    );
  }
  if (kind !== StepKind.Compensatable && config.compensation !== undefined) {
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is ${kind} and so is never compensated, but it has a compensation policy; remove it or make the step compensatable.`,
    );
  }
  const compensation =
    config.compensation === undefined
      ? undefined
      : checkCompensationPolicy(`${where}: compensation`, config.compensation);
  if (config.probe !== undefined) assertFunction(`${where}: probe`, config.probe);
  if (config.compensate !== undefined) assertFunction(`${where}: compensate`, config.compensate);
  if (config.timeoutMs !== undefined) assertDuration(`${where}: timeoutMs`, config.timeoutMs);
  if (config.probeTimeoutMs !== undefined)
    assertDuration(`${where}: probeTimeoutMs`, config.probeTimeoutMs);
  if (config.retry !== undefined) resolveRetry(`${where}: retry`, config.retry as object);
  if (config.publish !== undefined) {
    assertFunction(`${where}: publish`, config.publish);
    if (kind === StepKind.Compensatable) {
      throw new LockstepDefinitionError(
        `Step "${name}" of saga "${saga}" is compensatable but publishes outbox messages; a message from a step that may still be undone would announce what never stays. Publish from the pivot or a retriable step.`,
      );
    }
  }
  if (config.idempotent !== undefined && typeof config.idempotent !== "boolean") {
    throw new LockstepDefinitionError(
      `Expected \`idempotent\` of ${where} to be a boolean, got ${describeValue(config.idempotent)}.`,
    );
  }
  return Object.freeze({
    name,
    kind: kind as StepKind,
    store: config.store as StepDefinition["store"],
    output: config.output as StepDefinition["output"],
    execute: config.execute as StepDefinition["execute"],
    probe: config.probe as StepDefinition["probe"],
    compensate: config.compensate as StepDefinition["compensate"],
    retry: config.retry as StepDefinition["retry"],
    idempotent: config.idempotent === true,
    timeoutMs: config.timeoutMs as number | undefined,
    probeTimeoutMs: config.probeTimeoutMs as number | undefined,
    compensation: compensation as CompensationPolicy | undefined,
    publish: config.publish as StepDefinition["publish"],
  });
}

function checkOrder(
  saga: string,
  previous: readonly StepDefinition[],
  name: string,
  kind: StepKind,
): void {
  const pivot = previous.find((s) => s.kind === StepKind.Pivot);
  const retriable = previous.find((s) => s.kind === StepKind.Retriable);
  if (kind === StepKind.Compensatable && (pivot || retriable)) {
    const after = pivot ?? retriable;
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is compensatable but comes after the ${after?.kind} step "${after?.name}"; compensatable steps must come before the pivot and before any retriable step.`,
    );
  }
  if (kind === StepKind.Pivot && pivot) {
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is a second pivot; a saga has at most one pivot, and "${pivot.name}" is already it.`,
    );
  }
  if (kind === StepKind.Pivot && retriable) {
    throw new LockstepDefinitionError(
      `Step "${name}" of saga "${saga}" is the pivot but comes after the retriable step "${retriable.name}"; retriable steps must come after the pivot.`,
    );
  }
}
