import { StepStatus } from "../core/report.js";
import { SagaStatus } from "../model/records.js";
import type { DiagnosisHeader, StepFinding } from "./diagnosis.js";

/** When recovery may start on the saga, as the plan's opening words; empty when it may now. */
export function blockedBy(head: DiagnosisHeader, now: number): string {
  if (head.lease.live) {
    return `Once the lease of ${head.lease.owner} lapses (${iso(head.lease.expiresAt ?? now)}): `;
  }
  if (!head.recovery.due)
    return `From ${iso(head.recovery.nextAt)}, when its next attempt is due: `;
  return "";
}

/** What the saga's lease and recovery attempts say about it, in full sentences. */
export function leaseFacts(head: DiagnosisHeader, now: number): string[] {
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

/** What each step's log entries (and probe) say about it, in full sentences. */
export function stepFacts(steps: readonly StepFinding[]): string[] {
  const facts: string[] = [];
  for (const step of steps) {
    const name = `Step "${step.name}"`;
    const error = words(step.error);
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
      facts.push(
        `The compensation of ${name.toLowerCase()} failed when last tried${words(step.compensationError)}.`,
      );
    }
    if (step.compensation === "started") {
      facts.push(
        `The compensation of ${name.toLowerCase()} started, and its result was never logged.`,
      );
    }
  }
  return facts;
}

/** A logged error as a parenthesis to follow a sentence's verb; empty without one. */
function words(error: StepFinding["error"]): string {
  return error === undefined ? "" : ` (${error.kind}: ${error.message})`;
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
