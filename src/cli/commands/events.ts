import type { OperatorEvent } from "../../model/operator-event.js";
import { CliFailure } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { isoTime, plural, renderTable } from "../table.js";

/** `lockstep events`: what operators did to the log as a whole, newest first. */
export const events: Command = {
  name: "events",
  summary: "List the operator events the log records (prunes), newest first.",
  synopsis: "events --log <url> [--limit <n>] [--json]",
  description:
    "Lists what operators did to the log as a whole, newest first: each prune, from `lockstep prune` or the console, recorded in the same write as its deletions, with when, who, what was asked, how many sagas it deleted (the first 100 ids) and how many it left because a runner held their lease. An action on one saga (recovery, a retry) is recorded on that saga instead: `lockstep sagas show <id>` lists it.",
  options: {
    limit: { type: "string", value: "<n>", description: "At most this many (default 20)." },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run(session) {
    const limit = session.integer("limit", 1, 20);
    const log = await session.log();
    if (log.operations === undefined) {
      throw new CliFailure(
        "This log keeps no operator events: its `operations` is absent (a log of your own making?).",
      );
    }
    const recorded = await log.operations.events({ limit });
    if (session.json) {
      printJson(session.output, { count: recorded.length, events: recorded });
      return ExitCode.Ok;
    }
    if (recorded.length === 0) {
      session.output.out("No operator event is recorded in this log.");
      return ExitCode.Ok;
    }
    session.output.out(
      renderTable(
        ["AT", "WHO", "ACTION", "ASKED", "CHANGED", "LEFT", "NOTE"],
        recorded.map((e) => [
          isoTime(e.at),
          e.actor,
          e.action,
          asked(e),
          e.changed,
          e.skipped,
          e.note === "" ? undefined : e.note,
        ]),
      ),
    );
    session.output.out(
      `${plural(recorded.length, "event")}${recorded.length === limit ? ` (the newest ${limit}; raise --limit for more)` : ""}. LEFT: sagas left because a runner held their lease.`,
    );
    return ExitCode.Ok;
  },
};

/** A prune's cut-off and statuses; anything else as its JSON. */
function asked(event: OperatorEvent): string {
  const { before, statuses } = event.request;
  if (typeof before === "number" && Array.isArray(statuses)) {
    return `before ${isoTime(before)} (${statuses.join(", ")})`;
  }
  return JSON.stringify(event.request);
}
