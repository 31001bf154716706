import { systemClock } from "../../core/clock.js";
import { PRUNABLE_STATUSES, type SagaStatus, TERMINAL_STATUSES } from "../../model/records.js";
import { UsageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { parseDuration } from "../duration.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { isoTime, plural } from "../table.js";

/** `lockstep prune`: deletes finished sagas older than a duration. */
export const prune: Command = {
  name: "prune",
  summary: "Delete finished sagas last updated longer ago than a duration.",
  synopsis:
    "prune --older-than <duration> --log <url> [--status <status,…>] [--actor <name>] [--note <text>] [--json]",
  description: `Deletes sagas last updated before now minus the duration, each with its entries, atomically, through the log's own prune: by default those that finished cleanly (${PRUNABLE_STATUSES.join(", ")}). Sagas that need attention or are quarantined are evidence for an operator and are kept unless named with --status; running, compensating and in-doubt sagas are never pruned, nor is a finished saga whose lease a runner still holds. The prune is recorded in the log as an operator event (who, when, what was asked, how many were deleted), in the same write as the deletion; \`lockstep events\` lists them. Durations: 30d, 12h, 90m, 45s, 500ms, 2w, or combinations such as 1d12h.`,
  options: {
    "older-than": {
      type: "string",
      value: "<duration>",
      description: "Prune sagas last updated longer ago than this (required).",
    },
    status: {
      type: "string",
      multiple: true,
      value: "<status,…>",
      description: `Which terminal statuses to prune (repeat or comma-separate): ${TERMINAL_STATUSES.join(", ")}; default ${PRUNABLE_STATUSES.join(", ")}.`,
    },
    actor: {
      type: "string",
      value: "<name>",
      description: "Who prunes, recorded in the operator event (default $USER, or cli).",
    },
    note: {
      type: "string",
      value: "<text>",
      description: "Why, recorded in the operator event (default none).",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run(session) {
    const flag = session.string("older-than");
    if (flag === undefined) {
      throw new UsageError(
        "`lockstep prune` needs --older-than <duration>, e.g. --older-than 30d.",
        "prune",
      );
    }
    const olderThanMs = parseDuration("older-than", flag, "prune");
    const named = ((session.values.status as string[] | undefined) ?? [])
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    for (const status of named) {
      if (!(TERMINAL_STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(
          `Expected --status to be a terminal status (${TERMINAL_STATUSES.join(", ")}), got "${status}".`,
          "prune",
        );
      }
    }
    const statuses = named.length === 0 ? PRUNABLE_STATUSES : (named as SagaStatus[]);
    const now = systemClock.now();
    const before = now - olderThanMs;
    const log = await session.log();
    const operator = {
      actor: session.string("actor") ?? (process.env.USER || "cli"),
      action: "prune",
      note: session.string("note") ?? "",
    };
    const event =
      log.operations === undefined
        ? undefined
        : await log.operations.prune({ before, statuses, now, operator });
    const pruned = event?.changed ?? (await log.prune(before, statuses));
    if (session.json) {
      printJson(session.output, {
        pruned,
        skipped: event?.skipped ?? 0,
        before,
        olderThanMs,
        statuses,
        eventId: event?.eventId ?? null,
      });
    } else {
      session.output.out(
        [
          `Pruned ${plural(pruned, "saga")} (${statuses.join(", ")}) last updated before ${isoTime(before)}.`,
          event === undefined || event.skipped === 0
            ? ""
            : ` Left ${plural(event.skipped, "saga")} whose lease a runner holds.`,
          event === undefined
            ? " Not recorded: this log keeps no operator events."
            : ` Recorded as operator event ${event.eventId} by ${operator.actor}.`,
        ].join(""),
      );
    }
    return ExitCode.Ok;
  },
};
