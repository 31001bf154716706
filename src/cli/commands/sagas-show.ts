import { SagaLogError } from "../../log/saga-log.js";
import type { SagaSnapshot } from "../../model/records.js";
import { sagaTimeline } from "../../observability/saga-timeline.js";
import { renderTimelineText, TIMELINE_TEXT_LEGEND } from "../../observability/timeline-text.js";
import { CliFailure } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { isoTime, plural, renderTable } from "../table.js";

/** `lockstep sagas show <id>`: one saga's timeline. */
export const sagasShow: Command = {
  name: "sagas show",
  summary: "Show one saga: its steps and a timeline of every log entry.",
  synopsis: "sagas show <id> --log <url> [--json]",
  description:
    "Shows a saga's header (status, lease holder and fencing token, recovery attempts, attention), its steps as a runner would rebuild them from the log, every intent, outcome and compensation in order, with the fencing token each was written under (a token that grows marks a takeover by another runner), and the outbox messages its steps published, with their delivery status (pending, delivered, dead), attempts and last error.",
  options: {},
  positionals: { min: 1, max: 1, names: "<id>" },
  async run(session) {
    const sagaId = session.positionals[0] as string;
    const log = await session.log();
    let snapshot: SagaSnapshot | undefined;
    try {
      snapshot = await log.load(sagaId);
    } catch (error) {
      if (!(SagaLogError.is(error) && error.reason === "corrupt")) throw error;
      session.output.err(
        `Saga "${sagaId}" has an invalid log record at \`${error.field ?? "(record)"}\`: ${error.message}`,
      );
      return ExitCode.Problems;
    }
    if (snapshot === undefined) {
      throw new CliFailure(`No saga with id "${sagaId}" is in the log.`);
    }
    const t = sagaTimeline(snapshot);
    const outbox = (await log.outbox?.messages({ sagaId })) ?? [];
    if (session.json) {
      printJson(session.output, { ...t, outbox });
      return ExitCode.Ok;
    }
    const out = (text: string) => session.output.out(text);
    out(`saga      ${t.sagaId}`);
    out(`name      ${t.saga} (version ${t.version})`);
    out(`status    ${t.status}`);
    out(`created   ${isoTime(t.createdAt)}`);
    out(`updated   ${isoTime(t.updatedAt)}`);
    out(
      `lease     ${t.lease.owner === null ? "free" : `${t.lease.owner} until ${isoTime(t.lease.expiresAt)}`}, fencing token ${t.lease.token}`,
    );
    out(
      `recovery  ${plural(t.recovery.attempts, "attempt")}${t.recovery.attempts > 0 ? `, next not before ${isoTime(t.recovery.nextAt)}` : ""}`,
    );
    if (t.attention !== undefined) {
      out(
        `attention ${t.attention.reason}${t.attention.step === "" ? "" : ` at step "${t.attention.step}"`}: ${t.attention.message}`,
      );
    }
    out(`input     ${JSON.stringify(t.input)}`);
    out("");
    out("steps");
    out(
      indentedTable(
        ["STEP", "KIND", "STORE", "STATUS", "ATTEMPTS", "VIA", "COMPENSATION", "LAST ERROR"],
        t.steps.map((s) => [
          s.name,
          s.kind,
          s.store,
          s.status,
          s.attempts,
          s.via,
          s.compensation === "none" ? undefined : s.compensation,
          s.error === undefined ? undefined : `${s.error.kind}: ${s.error.message}`,
        ]),
      ),
    );
    if (t.entries.length > 0) {
      out("");
      out("lanes (one column per log entry, in order)");
      out(indent(renderTimelineText(snapshot)));
      out(indent(TIMELINE_TEXT_LEGEND));
    }
    out("");
    out("timeline");
    if (t.entries.length === 0) {
      out("  (no entries: no step has started)");
    } else {
      out(
        indentedTable(
          ["SEQ", "AT", "+MS", "TOKEN", "STEP", "EVENT", "ATTEMPT", "DETAIL"],
          t.entries.map((e) => [
            e.seq,
            isoTime(e.at),
            `+${e.at - t.createdAt}`,
            e.takeover ? `${e.token} (takeover)` : e.token,
            e.step,
            e.via === undefined ? e.type : `${e.type} (${e.via})`,
            e.attempt,
            e.operator !== undefined
              ? `${e.operator.action} by ${e.operator.actor}: ${e.operator.note}`
              : e.error !== undefined
                ? `${e.error.kind}: ${e.error.message}`
                : e.output === undefined
                  ? undefined
                  : JSON.stringify(e.output),
          ]),
        ),
      );
    }
    if (outbox.length > 0) {
      out("");
      out("outbox");
      out(
        indentedTable(
          ["MESSAGE", "TOPIC", "STATUS", "ATTEMPTS", "NEXT TRY", "LAST ERROR"],
          outbox.map((m) => [
            m.messageId,
            m.topic,
            m.status,
            m.attempts,
            m.status === "pending" ? isoTime(m.nextAt) : undefined,
            m.lastError ?? undefined,
          ]),
        ),
      );
    }
    return ExitCode.Ok;
  },
};

/** A table under a heading, indented by two spaces. */
function indentedTable(...table: Parameters<typeof renderTable>): string {
  return indent(renderTable(...table));
}

/** Every line of `text` indented by two spaces. */
function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}
