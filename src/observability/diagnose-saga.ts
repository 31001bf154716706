import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { type Clock, systemClock } from "../core/clock.js";
import { callWithDeadline } from "../core/deadline.js";
import {
  ErrorCode,
  type LogFailedError,
  lockstepError,
  type SagaNotFoundError,
} from "../core/errors.js";
import { stepKey } from "../core/ids.js";
import { StepStatus } from "../core/report.js";
import type { Saga } from "../core/saga.js";
import type { StepDefinition } from "../core/step.js";
import { assertInteger } from "../core/validate.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import type { AttentionReason } from "../model/attention-reason.js";
import { type SagaRecord, type SagaSnapshot, SagaStatus } from "../model/records.js";
import {
  type ForecastStep,
  forecastRecovery,
  type ProbeFinding,
  RecoveryAction,
} from "./recovery-forecast.js";
import { type ReplayedStep, replaySteps } from "./step-replay.js";

/** One step of a diagnosed saga: what the log says, and what its probe said when it was asked. */
export interface StepFinding extends ReplayedStep {
  /** What the probe said, when the log leaves the step `unknown` and it has a probe. */
  readonly probe: ProbeFinding | undefined;
  /** Why the probe failed, when it did. */
  readonly probeError: string | undefined;
  /** The step's state once the probe is taken into account. */
  readonly actual: StepStatus;
}

/** What a diagnosis found about one saga, and what recovery will do with it. */
export interface SagaDiagnosis {
  /** The saga id. */
  readonly sagaId: string;
  /** The saga's name. */
  readonly saga: string;
  /** Its definition version, as logged. */
  readonly version: number;
  /** Its status in the log. */
  readonly status: SagaStatus;
  /** The lease, and whether it is live now (a runner may be driving the saga). */
  readonly lease: {
    /** The runner holding it, or `null` when it is free. */
    readonly owner: string | null;
    /** When it lapses, in milliseconds since the epoch, or `null` when it is free. */
    readonly expiresAt: number | null;
    /** The saga's current fencing token. */
    readonly token: number;
    /** Whether a runner holds it now, so recovery must wait for it to lapse. */
    readonly live: boolean;
  };
  /** Recovery attempts so far, when the next may start, and whether that is now. */
  readonly recovery: {
    /** How many recovery attempts were counted. */
    readonly attempts: number;
    /** When the next may start, in milliseconds since the epoch. */
    readonly nextAt: number;
    /** Whether the next attempt may start now. */
    readonly due: boolean;
  };
  /** Why the saga needs attention, when the log says it does. */
  readonly attention:
    | {
        /** The typed reason. */
        readonly reason: AttentionReason;
        /** The step it concerns; empty when it concerns the whole saga. */
        readonly step: string;
        /** A full sentence saying what happened. */
        readonly message: string;
      }
    | undefined;
  /** Every step, in definition order. Empty when the record could not be read. */
  readonly steps: readonly StepFinding[];
  /** What is true, in full sentences. */
  readonly facts: readonly string[];
  /** What recovery will do. */
  readonly action: RecoveryAction;
  /** The steps recovery will run or undo, in order, or the one it stops at. */
  readonly actionSteps: readonly string[];
  /** What recovery will do, in words, including when it may start. */
  readonly plan: string;
  /** Whether the saga needs someone's eyes: in doubt, stuck, waiting for a person, unreadable. */
  readonly problem: boolean;
}

/** Options of {@link diagnoseSaga} and {@link diagnose}. */
export interface DiagnoseOptions {
  /**
   * The saga definitions, matched by name and version, used to probe steps whose outcome the log
   * leaves unknown and to predict recovery. Without them the diagnosis reads the log only.
   * @default none
   */
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly sagas?: readonly Saga<any, any>[];
  /**
   * The clock leases and probe deadlines are measured on.
   * @default the system clock
   */
  readonly clock?: Clock;
  /**
   * Deadline of each probe, in milliseconds, for steps that set neither `probeTimeoutMs` nor
   * `timeoutMs`.
   * @default 10000
   */
  readonly timeoutMs?: number;
}

/** Options of {@link diagnose}. */
export interface DiagnoseAllOptions extends DiagnoseOptions {
  /**
   * Which statuses to diagnose.
   * @default every status but `completed` and `compensated`
   */
  readonly statuses?: readonly SagaStatus[];
  /**
   * The most sagas to diagnose, newest first.
   * @default 100
   */
  readonly limit?: number;
}

/** The statuses {@link diagnose} looks at by default: every one that is not a clean finish. */
export const DIAGNOSED_STATUSES: readonly SagaStatus[] = Object.freeze([
  SagaStatus.Running,
  SagaStatus.Compensating,
  SagaStatus.InDoubt,
  SagaStatus.NeedsAttention,
  SagaStatus.Quarantined,
]);

/**
 * Diagnoses one saga, read-only: loads it from the log, rebuilds its steps, asks the probe of every
 * step whose outcome the log leaves unknown (probes are reads of the authoritative state), and says
 * what is true and what recovery will do with it. Nothing is written to the log or to any store.
 *
 * @example
 * ```ts
 * const result = await diagnoseSaga(log, sagaId, { sagas: [transfer] });
 * if (result.isOk()) console.log(result.value.facts.join("\n"), result.value.plan);
 * ```
 */
export function diagnoseSaga(
  log: SagaLog,
  sagaId: string,
  options: DiagnoseOptions = {},
): ResultAsync<SagaDiagnosis, SagaNotFoundError | LogFailedError> {
  const settings = settingsOf(options);
  return ResultAsync.fromPromise(diagnoseOne(log, sagaId, undefined, settings), (error) =>
    logFailed(error, sagaId),
  ).andThen((diagnosis) =>
    diagnosis === undefined
      ? errAsync<SagaDiagnosis, SagaNotFoundError | LogFailedError>(
          lockstepError({
            code: ErrorCode.SagaNotFound,
            message: `No saga with id "${sagaId}" is in the log.`,
            sagaId,
          }),
        )
      : okAsync<SagaDiagnosis, SagaNotFoundError | LogFailedError>(diagnosis),
  );
}

/**
 * Diagnoses every saga that did not finish cleanly (running, compensating, in doubt, needing
 * attention, quarantined), newest first, one at a time; see {@link diagnoseSaga}.
 *
 * @example
 * ```ts
 * const result = await diagnose(log, { sagas: Object.values(bountySagas(ports)) });
 * if (result.isOk()) for (const d of result.value) if (d.problem) console.log(d.sagaId, d.plan);
 * ```
 */
export function diagnose(
  log: SagaLog,
  options: DiagnoseAllOptions = {},
): ResultAsync<readonly SagaDiagnosis[], LogFailedError> {
  const settings = settingsOf(options);
  const limit = options.limit ?? 100;
  assertInteger("limit", limit, 1);
  const statuses = options.statuses ?? DIAGNOSED_STATUSES;
  return ResultAsync.fromPromise(
    (async () => {
      const listed = await log.list({ status: statuses, limit });
      const found: SagaDiagnosis[] = [];
      for (const record of listed) {
        const diagnosis = await diagnoseOne(log, record.sagaId, record, settings);
        if (diagnosis !== undefined) found.push(diagnosis);
      }
      return found;
    })(),
    (error) => logFailed(error, undefined),
  );
}

interface Settings {
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly registry: Map<string, Saga<any, any>> | undefined;
  readonly clock: Clock;
  readonly timeoutMs: number;
}

function settingsOf(options: DiagnoseOptions): Settings {
  const timeoutMs = options.timeoutMs ?? 10_000;
  assertInteger("timeoutMs", timeoutMs, 1);
  return {
    registry:
      options.sagas === undefined
        ? undefined
        : new Map(options.sagas.map((saga) => [`${saga.name}@${saga.version}`, saga])),
    clock: options.clock ?? systemClock,
    timeoutMs,
  };
}

function logFailed(error: unknown, sagaId: string | undefined): LogFailedError {
  const message = error instanceof Error ? error.message : String(error);
  return lockstepError({
    code: ErrorCode.LogFailed,
    message: `The saga log could not be read for a diagnosis${sagaId === undefined ? "" : ` of saga "${sagaId}"`}: ${message}`,
    ...(sagaId === undefined ? {} : { sagaId }),
    cause: error,
  });
}

async function diagnoseOne(
  log: SagaLog,
  sagaId: string,
  listed: SagaRecord | undefined,
  settings: Settings,
): Promise<SagaDiagnosis | undefined> {
  const now = settings.clock.now();
  let snapshot: SagaSnapshot | undefined;
  try {
    snapshot = await log.load(sagaId);
  } catch (error) {
    if (!(SagaLogError.is(error) && error.reason === "corrupt")) throw error;
    return corrupt(sagaId, listed, error, now);
  }
  if (snapshot === undefined) return undefined;
  const { record } = snapshot;
  const head = header(record, now);
  const finished =
    record.status === SagaStatus.Completed || record.status === SagaStatus.Compensated;
  if (
    finished ||
    record.status === SagaStatus.NeedsAttention ||
    record.status === SagaStatus.Quarantined
  ) {
    const steps = replaySteps(record.definition, snapshot.entries).map(unprobed);
    const waiting = record.attention
      ? `It needs attention (${record.attention.reason}) at step "${record.attention.step}": ${record.attention.message}`
      : `It is ${record.status}.`;
    return {
      ...head,
      steps,
      facts: [waiting, ...stepFacts(steps)],
      action: RecoveryAction.LeaveAlone,
      actionSteps: [],
      plan: finished
        ? "Recovery leaves it alone: it is finished."
        : "Recovery leaves it alone: a person has to decide what to do and repair the stores by hand; the log keeps the saga as the record of what happened.",
      problem: !finished,
    };
  }
  const saga = settings.registry?.get(`${record.definition.name}@${record.definition.version}`);
  const mismatch =
    settings.registry === undefined
      ? undefined
      : saga === undefined
        ? `no definition of saga "${record.definition.name}" version ${record.definition.version} was given`
        : JSON.stringify(saga.definition) !== JSON.stringify(record.definition)
          ? `the given definition of saga "${record.definition.name}" version ${record.definition.version} differs from the one logged with it`
          : undefined;
  const input = saga?.input.safeParse(record.input);
  const parse =
    saga === undefined || mismatch !== undefined
      ? undefined
      : (step: string, output: unknown) =>
          (saga.steps as readonly StepDefinition[])
            .find((s) => s.name === step)
            ?.output.safeParse(output).success === true;
  const replayed = replaySteps(record.definition, snapshot.entries, parse);
  const blocked = blockedBy(head, now);
  const named = [...(settings.registry?.values() ?? [])].some(
    (s) => s.name === record.definition.name,
  );
  if (settings.registry !== undefined && !named) {
    // A recoverer claims only sagas it has a definition of that name for.
    const steps = replayed.map(unprobed);
    return {
      ...head,
      steps,
      facts: [...leaseFacts(head, now), ...stepFacts(steps)],
      action: RecoveryAction.LeaveAlone,
      actionSteps: [],
      plan: `A recoverer given these definitions does not claim it: none of them is named "${record.definition.name}". It stays ${record.status} until a recoverer that has its definition runs.`,
      problem: record.status === SagaStatus.InDoubt || !head.lease.live,
    };
  }
  if (
    settings.registry === undefined ||
    saga === undefined ||
    mismatch !== undefined ||
    !input?.success
  ) {
    const steps = replayed.map(unprobed);
    const why =
      settings.registry === undefined
        ? undefined
        : (mismatch ??
          `its logged input no longer satisfies the saga's input schema (${input?.success === false ? (input.error.issues[0]?.message ?? "invalid") : "invalid"})`);
    return {
      ...head,
      steps,
      facts: [...leaseFacts(head, now), ...stepFacts(steps)],
      action: why === undefined ? RecoveryAction.Unknown : RecoveryAction.MarkNeedsAttention,
      actionSteps: [],
      plan:
        why === undefined
          ? "Without the saga definitions the steps cannot be probed, nor recovery predicted; give them (lockstep doctor --config <module>)."
          : `${blocked}Recovery will end it needs_attention (${mismatch === undefined ? "corrupt_record" : "definition_mismatch"}): ${why}.`,
      problem: why !== undefined || record.status === SagaStatus.InDoubt || !head.lease.live,
    };
  }
  const steps = await probeUnknown(saga, sagaId, record, input.data, replayed, settings);
  const forecast = forecastRecovery(
    saga,
    record.status,
    steps.map((s): ForecastStep => ({ status: s.actual, executed: s.executed, probe: s.probe })),
  );
  return {
    ...head,
    steps,
    facts: [...leaseFacts(head, now), ...stepFacts(steps)],
    action: forecast.action,
    actionSteps: forecast.steps,
    plan: `${blocked}${forecast.description}`,
    problem:
      record.status === SagaStatus.InDoubt ||
      !head.lease.live ||
      (forecast.action !== RecoveryAction.RollForward &&
        forecast.action !== RecoveryAction.Compensate) ||
      steps.some((s) => s.probe === "failed" || s.probe === "cannot_tell"),
  };
}

type Header = Omit<
  SagaDiagnosis,
  "steps" | "facts" | "action" | "actionSteps" | "plan" | "problem"
>;

function header(record: SagaRecord, now: number): Header {
  return {
    sagaId: record.sagaId,
    saga: record.definition.name,
    version: record.definition.version,
    status: record.status,
    lease: {
      owner: record.leaseOwner,
      expiresAt: record.leaseExpiresAt,
      token: record.fencingToken,
      live: record.leaseOwner !== null && (record.leaseExpiresAt ?? 0) > now,
    },
    recovery: {
      attempts: record.recoveryAttempts,
      nextAt: record.nextRecoveryAt,
      due: record.nextRecoveryAt <= now,
    },
    attention: record.attention ?? undefined,
  };
}

function corrupt(
  sagaId: string,
  listed: SagaRecord | undefined,
  error: SagaLogError,
  now: number,
): SagaDiagnosis {
  const quarantined = listed?.status === SagaStatus.Quarantined;
  return {
    ...(listed === undefined
      ? {
          sagaId,
          saga: "(unreadable)",
          version: 0,
          status: SagaStatus.Quarantined,
          lease: { owner: null, expiresAt: null, token: 0, live: false },
          recovery: { attempts: 0, nextAt: 0, due: true },
          attention: undefined,
        }
      : header(listed, now)),
    steps: [],
    facts: [`Its log record is invalid at \`${error.field ?? "(record)"}\`: ${error.message}`],
    action: quarantined ? RecoveryAction.LeaveAlone : RecoveryAction.Quarantine,
    actionSteps: [],
    plan: quarantined
      ? "Recovery leaves it alone: it is quarantined; repair or remove its record by hand."
      : "Recovery will quarantine it and leave it alone; repair or remove its record by hand.",
    problem: true,
  };
}

function unprobed(step: ReplayedStep): StepFinding {
  return { ...step, probe: undefined, probeError: undefined, actual: step.status };
}

/** Asks the probe of every step the log leaves unknown; read-only by the probe contract. */
async function probeUnknown(
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  sagaId: string,
  record: SagaRecord,
  input: unknown,
  replayed: readonly ReplayedStep[],
  settings: Settings,
): Promise<StepFinding[]> {
  const defs = saga.steps as readonly StepDefinition[];
  const outputs: Record<string, unknown> = {};
  const findings: StepFinding[] = [];
  for (let i = 0; i < defs.length; i++) {
    const def = defs[i] as StepDefinition;
    const step = replayed[i] as ReplayedStep;
    let finding: StepFinding = unprobed(step);
    if (step.status === StepStatus.Unknown && def.probe !== undefined) {
      finding = await probeStep(def, sagaId, record, input, outputs, step, settings);
    }
    if (finding.actual === StepStatus.Committed || finding.actual === StepStatus.Compensated) {
      const parsed = def.output.safeParse(finding.output);
      if (parsed.success) outputs[def.name] = parsed.data;
    }
    findings.push(finding);
  }
  return findings;
}

async function probeStep(
  def: StepDefinition,
  sagaId: string,
  record: SagaRecord,
  input: unknown,
  outputs: Readonly<Record<string, unknown>>,
  step: ReplayedStep,
  settings: Settings,
): Promise<StepFinding> {
  const probe = def.probe as NonNullable<StepDefinition["probe"]>;
  const timeoutMs = def.probeTimeoutMs ?? def.timeoutMs ?? settings.timeoutMs;
  const outcome = await callWithDeadline(settings.clock, timeoutMs, undefined, (scope) =>
    probe({
      input,
      outputs: Object.freeze({ ...outputs }),
      sagaId,
      key: stepKey(sagaId, def.name),
      attempt: Math.max(1, step.attempts),
      fencingToken: record.fencingToken,
      handle: def.store.handle,
      signal: scope.signal,
      deadline: scope.deadline,
    }),
  );
  const found = (said: ProbeFinding, extra: Partial<StepFinding> = {}): StepFinding => ({
    ...step,
    probe: said,
    probeError: undefined,
    actual:
      said === "committed"
        ? StepStatus.Committed
        : said === "not_committed"
          ? StepStatus.NotCommitted
          : StepStatus.Unknown,
    ...extra,
  });
  if (outcome.status === "timeout") {
    return found("failed", { probeError: `it did not answer within ${timeoutMs} ms` });
  }
  if (outcome.status !== "ok") {
    const error = outcome.status === "error" ? outcome.error : outcome.reason;
    return found("failed", { probeError: error instanceof Error ? error.message : String(error) });
  }
  const value = outcome.value as { status?: unknown; output?: unknown } | undefined;
  if (value?.status === "committed") {
    return def.output.safeParse(value.output).success
      ? found("committed", { output: value.output })
      : found("invalid_output", { output: value.output });
  }
  if (value?.status === "not_committed") return found("not_committed");
  return found("cannot_tell");
}

function blockedBy(head: Header, now: number): string {
  if (head.lease.live) {
    return `Once the lease of ${head.lease.owner} lapses (${iso(head.lease.expiresAt ?? now)}): `;
  }
  if (!head.recovery.due)
    return `From ${iso(head.recovery.nextAt)}, when its next attempt is due: `;
  return "";
}

function leaseFacts(head: Header, now: number): string[] {
  const facts: string[] = [];
  if (head.status === SagaStatus.InDoubt) {
    facts.push("It is parked in doubt: a step's outcome could not be determined.");
  }
  if (head.lease.live) {
    facts.push(
      `It is leased by ${head.lease.owner} until ${iso(head.lease.expiresAt ?? now)} (fencing token ${head.lease.token}): a runner may be driving it, and recovery will not touch it before then.`,
    );
  } else if (head.status !== SagaStatus.InDoubt) {
    facts.push(
      `It is ${head.status} but no runner holds its lease (fencing token ${head.lease.token}): it is stuck until recovery takes it.`,
    );
  }
  if (head.recovery.attempts > 0) {
    facts.push(
      `Recovery has tried it ${head.recovery.attempts} time${head.recovery.attempts === 1 ? "" : "s"}${head.recovery.due ? "" : `; the next attempt is due at ${iso(head.recovery.nextAt)}`}.`,
    );
  }
  return facts;
}

function stepFacts(steps: readonly StepFinding[]): string[] {
  const facts: string[] = [];
  for (const step of steps) {
    const name = `Step "${step.name}"`;
    const error = step.error === undefined ? "" : ` (${step.error.kind}: ${step.error.message})`;
    switch (step.status) {
      case StepStatus.Committed:
        facts.push(
          `${name} committed (attempt ${step.attempts}, learned by ${step.via ?? "execute"}).`,
        );
        break;
      case StepStatus.Compensated:
        facts.push(`${name} committed and was compensated.`);
        break;
      case StepStatus.NotCommitted:
        facts.push(`${name} did not commit${error}.`);
        break;
      case StepStatus.Unknown:
        facts.push(`${name} has no known outcome (attempt ${step.attempts})${probeWords(step)}`);
        break;
      default:
        break;
    }
    if (step.compensation === "failed") {
      facts.push(`The compensation of ${name.toLowerCase()} failed when last tried${error}.`);
    }
    if (step.compensation === "started") {
      facts.push(
        `The compensation of ${name.toLowerCase()} started, and its result was never logged.`,
      );
    }
  }
  return facts;
}

function probeWords(step: StepFinding): string {
  switch (step.probe) {
    case "committed":
      return "; its probe says it committed.";
    case "not_committed":
      return "; its probe says it did not commit.";
    case "cannot_tell":
      return "; its probe cannot tell.";
    case "failed":
      return `; its probe failed: ${step.probeError}.`;
    case "invalid_output":
      return "; its probe says it committed, but with an output that fails the step's schema.";
    default:
      return step.hasProbe
        ? "; its probe was not asked (no saga definition)."
        : "; it has no probe, so recovery runs it again with the same key.";
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
