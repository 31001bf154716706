import { systemClock } from "../../core/clock.js";
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
  synopsis: "prune --older-than <duration> --log <url> [--json]",
  description:
    "Deletes terminal sagas (completed, compensated, needs_attention, quarantined) last updated before now minus the duration, each with its entries, atomically, through the log's own prune. Running, compensating and in-doubt sagas are never pruned. Durations: 30d, 12h, 90m, 45s, 500ms, 2w, or combinations such as 1d12h.",
  options: {
    "older-than": {
      type: "string",
      value: "<duration>",
      description: "Prune sagas last updated longer ago than this (required).",
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
    const before = systemClock.now() - olderThanMs;
    const log = await session.log();
    const pruned = await log.prune(before);
    if (session.json) {
      printJson(session.output, { pruned, before, olderThanMs });
    } else {
      session.output.out(
        `Pruned ${plural(pruned, "finished saga")} last updated before ${isoTime(before)}.`,
      );
    }
    return ExitCode.Ok;
  },
};
