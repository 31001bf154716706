import { SagaOrder } from "../../log/saga-log.js";
import { type SagaStatus, SagaStatus as Statuses } from "../../model/records.js";
import { UsageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { isoTime, plural, renderTable } from "../table.js";

const STATUSES: readonly string[] = Object.values(Statuses);
const ORDERS: readonly string[] = Object.values(SagaOrder);

/** `lockstep sagas list`: the sagas in the log, newest first. */
export const sagasList: Command = {
  name: "sagas list",
  summary: "List the sagas in the log, newest first.",
  synopsis:
    "sagas list --log <url> [--status <status,…>] [--name <saga>] [--order updated|created] [--limit <n>] [--json]",
  description:
    "Lists saga records newest first — by default the sagas that changed last first (--order updated), or the sagas started last first (--order created); never by saga id, which need not follow time — with id, name and version, status, the time it is ordered by, lease holder and fencing token, and why a saga needs attention. Filters combine.",
  options: {
    status: {
      type: "string",
      multiple: true,
      value: "<status,…>",
      description: `Only these statuses (repeat or comma-separate): ${STATUSES.join(", ")}.`,
    },
    name: { type: "string", value: "<saga>", description: "Only sagas with this name." },
    order: {
      type: "string",
      value: "<updated|created>",
      description: "Newest first by last update (updated, the default) or by creation (created).",
    },
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
    const order = session.string("order") ?? SagaOrder.Updated;
    if (!ORDERS.includes(order)) {
      throw new UsageError(
        `Expected --order to be one of ${ORDERS.join(", ")}, got "${order}".`,
        "sagas list",
      );
    }
    const log = await session.log();
    const records = await log.list({
      ...(statuses.length === 0 ? {} : { status: statuses as SagaStatus[] }),
      ...(name === undefined ? {} : { name }),
      orderBy: order as SagaOrder,
      limit,
    });
    if (session.json) {
      printJson(session.output, { count: records.length, order, sagas: records });
      return ExitCode.Ok;
    }
    const now = Date.now();
    const byCreation = order === SagaOrder.Created;
    if (records.length === 0) {
      session.output.out("No sagas match.");
      return ExitCode.Ok;
    }
    session.output.out(
      renderTable(
        // The time column is the one the list is ordered by.
        [
          "ID",
          "SAGA",
          "V",
          "STATUS",
          byCreation ? "CREATED" : "UPDATED",
          "LEASE",
          "TOKEN",
          "ATTENTION",
        ],
        records.map((r) => [
          r.sagaId,
          r.definition.name,
          r.definition.version,
          r.status,
          isoTime(byCreation ? r.createdAt : r.updatedAt),
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
