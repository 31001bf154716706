import { type SagaStatus, SagaStatus as Statuses } from "../../model/records.js";
import { UsageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { isoTime, plural, renderTable } from "../table.js";

const STATUSES: readonly string[] = Object.values(Statuses);

/** `lockstep sagas list`: the sagas in the log, newest first. */
export const sagasList: Command = {
  name: "sagas list",
  summary: "List the sagas in the log, newest first.",
  synopsis: "sagas list --log <url> [--status <status,…>] [--name <saga>] [--limit <n>] [--json]",
  description:
    "Lists saga records newest first: id, name and version, status, last update, lease holder and fencing token, and why a saga needs attention. Filters combine.",
  options: {
    status: {
      type: "string",
      multiple: true,
      value: "<status,…>",
      description: `Only these statuses (repeat or comma-separate): ${STATUSES.join(", ")}.`,
    },
    name: { type: "string", value: "<saga>", description: "Only sagas with this name." },
    limit: {
      type: "string",
      value: "<n>",
      description: "At most this many (default 50).",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run(session) {
    const statuses = ((session.values.status as string[] | undefined) ?? [])
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    for (const status of statuses) {
      if (!STATUSES.includes(status)) {
        throw new UsageError(
          `Expected --status to be one of ${STATUSES.join(", ")}, got "${status}".`,
          "sagas list",
        );
      }
    }
    const limit = session.integer("limit", 1, 50);
    const name = session.string("name");
    const log = await session.log();
    const records = await log.list({
      ...(statuses.length === 0 ? {} : { status: statuses as SagaStatus[] }),
      ...(name === undefined ? {} : { name }),
      limit,
    });
    if (session.json) {
      printJson(session.output, { count: records.length, sagas: records });
      return ExitCode.Ok;
    }
    const now = Date.now();
    if (records.length === 0) {
      session.output.out("No sagas match.");
      return ExitCode.Ok;
    }
    session.output.out(
      renderTable(
        ["ID", "SAGA", "V", "STATUS", "UPDATED", "LEASE", "TOKEN", "ATTENTION"],
        records.map((r) => [
          r.sagaId,
          r.definition.name,
          r.definition.version,
          r.status,
          isoTime(r.updatedAt),
          r.leaseOwner === null
            ? "free"
            : `${r.leaseOwner} until ${isoTime(r.leaseExpiresAt)}${(r.leaseExpiresAt ?? 0) <= now ? " (lapsed)" : ""}`,
          r.fencingToken,
          r.attention === null
            ? undefined
            : `${r.attention.reason} at ${r.attention.step || "(saga)"}`,
        ]),
      ),
    );
    session.output.out(
      `${plural(records.length, "saga")}${records.length === limit ? ` (the newest ${limit}; raise --limit for more)` : ""}.`,
    );
    return ExitCode.Ok;
  },
};
