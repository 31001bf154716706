import { type StepStore, StoreError } from "../../index.js";
import { type SqlDialect, spellingOf, tablePrefix, tableReads } from "../sql-client.js";
import type { Contribution, Handoff } from "./model.js";
import type { ContributionStore, HandoffStore } from "./ports.js";

/** Options of the SQL contribution ports. */
export interface ContributionSqlOptions {
  /** Prefix of the tables. @default "contribution_" */
  readonly prefix?: string;
}

function tables(options: ContributionSqlOptions = {}) {
  const prefix = tablePrefix(options.prefix ?? "contribution_");
  return { contributions: `${prefix}contributions`, handoffs: `${prefix}handoffs` };
}

/** Creates the contribution tables if they do not exist; one handoff per (source, role) is enforced. */
export async function createContributionTables<Handle>(
  dialect: SqlDialect<Handle>,
  handle: Handle,
  options: ContributionSqlOptions = {},
): Promise<void> {
  const t = tables(options);
  const sql = dialect.client(handle);
  const key = spellingOf(dialect).keyType;
  await sql.exec(
    `CREATE TABLE IF NOT EXISTS ${t.contributions} (cid ${key} PRIMARY KEY, author TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, routes TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  );
  await sql.exec(
    `CREATE TABLE IF NOT EXISTS ${t.handoffs} (handoff_id ${key} PRIMARY KEY, source_cid ${key} NOT NULL, to_role ${key} NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, UNIQUE (source_cid, to_role))`,
  );
}

interface ContributionRow {
  cid: string;
  author: string;
  kind: string;
  body: string;
  routes: string;
  created_at: number | string;
}

const contributionOf = (row: ContributionRow): Contribution => ({
  cid: row.cid,
  author: row.author,
  kind: row.kind,
  body: JSON.parse(row.body),
  routes: JSON.parse(row.routes),
  createdAt: Number(row.created_at),
});

/** Contributions in a SQL table, inserted only if their cid is new. */
export function sqlContributionStore<Handle>(
  store: StepStore<Handle>,
  dialect: SqlDialect<Handle>,
  options: ContributionSqlOptions = {},
): ContributionStore<Handle> {
  const t = tables(options);
  const reads = tableReads(dialect, t.contributions, "cid", contributionOf);
  const get = (handle: Handle, cid: string) => reads.one(dialect.client(handle), cid);
  const insert = spellingOf(dialect).insertOrIgnore(
    t.contributions,
    ["cid", "author", "kind", "body", "routes", "created_at"],
    "cid",
  );
  return {
    store,
    put: async (handle, c) => {
      await dialect
        .client(handle)
        .exec(insert, [
          c.cid,
          c.author,
          c.kind,
          JSON.stringify(c.body),
          JSON.stringify(c.routes),
          c.createdAt,
        ]);
      return (await get(handle, c.cid)) ?? c;
    },
    get,
    list: reads.all,
  };
}

interface HandoffRow {
  handoff_id: string;
  source_cid: string;
  to_role: string;
  status: string;
  created_at: number | string;
}

const handoffOf = (row: HandoffRow): Handoff => ({
  handoffId: row.handoff_id,
  sourceCid: row.source_cid,
  toRole: row.to_role,
  status: row.status as Handoff["status"],
  createdAt: Number(row.created_at),
});

/** Handoffs in a SQL table, inserted only if new; a second handoff for one (source, role) is refused. */
export function sqlHandoffStore<Handle>(
  store: StepStore<Handle>,
  dialect: SqlDialect<Handle>,
  options: ContributionSqlOptions = {},
): HandoffStore<Handle> {
  const t = tables(options);
  const reads = tableReads(dialect, t.handoffs, "handoff_id", handoffOf);
  const insert = spellingOf(dialect).insertOrIgnore(
    t.handoffs,
    ["handoff_id", "source_cid", "to_role", "status", "created_at"],
    "handoff_id",
  );
  return {
    store,
    put: async (handle, h) => {
      const sql = dialect.client(handle);
      await sql.exec(insert, [h.handoffId, h.sourceCid, h.toRole, h.status, h.createdAt]);
      const stored = await reads.one(sql, h.handoffId);
      if (stored === undefined || stored.sourceCid !== h.sourceCid || stored.toRole !== h.toRole) {
        throw new StoreError(
          "conflict",
          `Handoff "${h.handoffId}" exists for another contribution or role.`,
        );
      }
      return stored;
    },
    listBySource: async (handle, cid) =>
      (
        await dialect
          .client(handle)
          .many<HandoffRow>(`SELECT * FROM ${t.handoffs} WHERE source_cid = ? ORDER BY to_role`, [
            cid,
          ])
      ).map(handoffOf),
    list: reads.all,
  };
}
