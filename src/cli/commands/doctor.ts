import { diagnose, diagnoseSaga } from "../../observability/diagnose-saga.js";
import type { SagaDiagnosis } from "../../observability/diagnosis.js";
import { CliFailure } from "../cli-error.js";
import type { Command } from "../command.js";
import { parseTimerDuration } from "../duration.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { isoTime, plural, renderTable } from "../table.js";

/** `lockstep doctor`: what is true about in-doubt and stuck sagas, and what recovery will do. */
export const doctor: Command = {
  name: "doctor",
  summary: "Probe in-doubt and stuck sagas against the real stores; say what recovery will do.",
  synopsis:
    "doctor [<id>] [--config <module>] [--log <url>] [--limit <n>] [--timeout <duration>] [--json]",
  description:
    "Read-only. For every saga that did not finish cleanly (running, compensating, in_doubt, needs_attention, quarantined), or the one saga named: rebuilds its steps from the log, asks the probe of each step whose outcome the log leaves unknown (probes only read), and says what is true and what recovery will do (roll forward, compensate, stay in doubt, hand to a person). Also lists outbox messages a relay dead-lettered (its retries ran out), each a problem. Probing needs --config with the saga definitions; without it, the log alone is reported. Exits 1 when it finds a problem.",
  options: {
    limit: {
      type: "string",
      value: "<n>",
      description: "At most this many sagas, newest first (default 100).",
    },
    timeout: {
      type: "string",
      value: "<duration>",
      description: "The deadline of each probe, for steps that set none (default 10s).",
    },
  },
  positionals: { min: 0, max: 1, names: "[<id>]" },
  async run(session) {
    const limit = session.integer("limit", 1, 100);
    const timeoutFlag = session.string("timeout");
    const timeoutMs =
      timeoutFlag === undefined ? 10_000 : parseTimerDuration("timeout", timeoutFlag, "doctor");
    const config = await session.config();
    const log = await session.log();
    const options = {
      timeoutMs,
      ...(config === undefined ? {} : { sagas: config.sagas }),
    };
    const sagaId = session.positionals[0];
    let diagnoses: readonly SagaDiagnosis[];
    if (sagaId === undefined) {
      const result = await diagnose(log, { ...options, limit });
      if (result.isErr()) throw new CliFailure(result.error.message, { cause: result.error });
      diagnoses = result.value;
    } else {
      const result = await diagnoseSaga(log, sagaId, options);
      if (result.isErr()) throw new CliFailure(result.error.message, { cause: result.error });
      diagnoses = [result.value];
    }
    const dead =
      sagaId === undefined
        ? ((await log.outbox?.messages({ status: ["dead"], limit })) ?? [])
        : ((await log.outbox?.messages({ sagaId, status: ["dead"] })) ?? []);
    const problems = diagnoses.filter((d) => d.problem).length + dead.length;
    if (session.json) {
      printJson(session.output, {
        diagnosed: diagnoses.length,
        problems,
        probed: config !== undefined,
        sagas: diagnoses,
        deadMessages: dead,
      });
      return problems === 0 ? ExitCode.Ok : ExitCode.Problems;
    }
    const out = (text: string) => session.output.out(text);
    if (config === undefined) {
      out("No --config: steps are not probed; the findings below come from the log alone.");
      out("");
    }
    for (const d of diagnoses) {
      out(`${d.sagaId}  ${d.saga} v${d.version}  ${d.status}${d.problem ? "  [problem]" : ""}`);
      out(
        `  lease: ${d.lease.owner === null ? "free" : `${d.lease.owner} until ${isoTime(d.lease.expiresAt)}${d.lease.live ? "" : " (lapsed)"}`}, fencing token ${d.lease.token}`,
      );
      if (d.steps.length > 0) {
        out(
          renderTable(
            ["  STEP", "KIND", "LOGGED", "PROBE", "NOW"],
            d.steps.map((s) => [`  ${s.name}`, s.kind, s.status, s.probe, s.actual]),
          ),
        );
      }
      out("  what is true:");
      for (const fact of d.facts) out(`    - ${fact}`);
      out("  what recovery will do:");
      out(`    ${d.plan}`);
      out("");
    }
    if (dead.length > 0) {
      out(
        "dead outbox messages (the relay's retries ran out; requeue with outbox.requeue once the cause is fixed):",
      );
      out(
        renderTable(
          ["  MESSAGE", "TOPIC", "ATTEMPTS", "LAST ERROR"],
          dead.map((m) => [`  ${m.messageId}`, m.topic, m.attempts, m.lastError ?? undefined]),
        ),
      );
      out("");
    }
    if (diagnoses.length === 0 && dead.length === 0) {
      out(
        "No saga needs a look: none is running, compensating, in doubt, needing attention or quarantined.",
      );
    } else {
      out(
        `${plural(diagnoses.length, "saga")} diagnosed, ${dead.length === 0 ? "" : `${plural(dead.length, "dead outbox message")}, `}${plural(problems, "problem")}.`,
      );
    }
    return problems === 0 ? ExitCode.Ok : ExitCode.Problems;
  },
};
