import type { Clock } from "../core/clock.js";
import { callWithDeadline } from "../core/deadline.js";
import { stepKey } from "../core/ids.js";
import { keyWindowAt } from "../core/key-window.js";
import { StepStatus } from "../core/report.js";
import type { Saga } from "../core/saga.js";
import type { StepDefinition } from "../core/step.js";
import { checkOutput } from "../core/step-output.js";
import type { ReplayedStep } from "../log/replay.js";
import type { SagaRecord } from "../model/records.js";
import { type StepFinding, unprobed } from "./diagnosis.js";
import type { ProbeFinding } from "./recovery-forecast.js";

/** What a probe needs besides the step: the clock its deadline runs on, and the default deadline. */
export interface ProbeSettings {
  readonly clock: Clock;
  readonly timeoutMs: number;
}

/**
 * Asks the probe of every step the log leaves unknown, in order, each seeing the outputs of the
 * steps before it; read-only by the probe contract.
 */
export async function probeUnknown(
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  sagaId: string,
  record: SagaRecord,
  input: unknown,
  replayed: readonly ReplayedStep[],
  settings: ProbeSettings,
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

/** Asks one step's probe, with its deadline, and takes its answer into the step's finding. */
async function probeStep(
  def: StepDefinition,
  sagaId: string,
  record: SagaRecord,
  input: unknown,
  outputs: Readonly<Record<string, unknown>>,
  step: ReplayedStep,
  settings: ProbeSettings,
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
      keyWindow: keyWindowAt(def.store.keyWindowMs, step.firstSentAt, settings.clock.now()),
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
    // The runner's own check: an output the log cannot store ends the saga needs_attention too.
    return checkOutput(def, value.output).ok
      ? found("committed", { output: value.output })
      : found("invalid_output", { output: value.output });
  }
  if (value?.status === "not_committed") return found("not_committed");
  return found("cannot_tell");
}
