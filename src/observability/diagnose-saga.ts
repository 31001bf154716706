import { errAsync, okAsync, ResultAsync } from "neverthrow";
import { type Clock, systemClock } from "../core/clock.js";
import {
  ErrorCode,
  type LogFailedError,
  lockstepError,
  type SagaNotFoundError,
} from "../core/errors.js";
import type { Saga } from "../core/saga.js";
import type { StepDefinition } from "../core/step.js";
import { invalidLoggedOutput } from "../core/step-output.js";
import { assertInteger } from "../core/validate.js";
import { replaySteps } from "../log/replay.js";
import { type SagaLog, SagaLogError } from "../log/saga-log.js";
import { type SagaRecord, type SagaSnapshot, SagaStatus } from "../model/records.js";
import { header, type SagaDiagnosis, unprobed } from "./diagnosis.js";
import { blockedBy, leaseFacts, stepFacts } from "./diagnosis-facts.js";
import { type ProbeSettings, probeUnknown } from "./probe-unknown.js";
import { type ForecastStep, forecastRecovery, RecoveryAction } from "./recovery-forecast.js";

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

interface Settings extends ProbeSettings {
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly registry: Map<string, Saga<any, any>> | undefined;
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
  const badOutput = invalidLoggedOutput(saga.steps, snapshot.entries);
  if (badOutput !== undefined) {
    const error = new SagaLogError("corrupt", sagaId, badOutput.message, {
      field: badOutput.field,
    });
    return corrupt(sagaId, record, error, now);
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
