import { assertName, describeValue } from "../core/validate.js";
import { LockstepDefinitionError } from "../model/definition-error.js";

/** A transaction handle of lockstep's SQLite store (or anything with its `all`). */
export interface SqliteInboxHandle {
  all(sql: string, params?: readonly unknown[]): Promise<unknown[]>;
}

/** A transaction handle of lockstep's Postgres store, or a `pg` client inside `BEGIN`. */
export interface PostgresInboxHandle {
  query(sql: string, params?: readonly unknown[]): Promise<{ readonly rows: unknown[] }>;
}

/** The databases an inbox speaks, and the handle each takes. */
export interface InboxHandles {
  readonly sqlite: SqliteInboxHandle;
  readonly postgres: PostgresInboxHandle;
}

/** Options of {@link createInbox}. */
export interface InboxOptions<Dialect extends keyof InboxHandles> {
  /** The consumer's database. */
  readonly dialect: Dialect;
  /**
   * The table of seen message ids (letters, digits and underscores; Postgres: optionally
   * `schema.table`).
   * @default "lockstep_inbox"
   */
  readonly table?: string;
}

/** A consumer's record of the message ids it has handled: see {@link createInbox}. */
export interface Inbox<Dialect extends keyof InboxHandles> {
  /** Creates the table if it is missing. Run it once, e.g. with the consumer's migrations. */
  readonly createTable: string;
  /**
   * Records `messageId` as handled, through `tx`, the consumer's transaction handle. Resolves
   * `true` the first time (handle the message in the same transaction) and `false` for an id
   * already recorded (a duplicate: skip it). The row commits or rolls back with the consumer's own
   * writes, so a message is handled exactly once however often it arrives.
   */
  receive(tx: InboxHandles[Dialect], messageId: string, now?: number): Promise<boolean>;
}

const TABLE = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

/**
 * An inbox on the consumer's transactional database: a table of handled message ids, inserted in
 * the consumer's transaction with `ON CONFLICT DO NOTHING`. The relay delivers at least once; with
 * an inbox, the consumer's effect happens once.
 *
 * @example
 * ```ts
 * const inbox = createInbox({ dialect: "postgres" });
 * await pool.query(inbox.createTable);
 * // for each message the consumer receives:
 * await store.transaction(async (tx) => {
 *   if (!(await inbox.receive(tx, message.properties.messageId))) return; // seen before
 *   await tx.query("UPDATE stock SET reserved = reserved + 1 WHERE sku = $1", [sku]);
 * }, scope);
 * ```
 */
export function createInbox<Dialect extends keyof InboxHandles>(
  options: InboxOptions<Dialect>,
): Inbox<Dialect> {
  const dialect = options?.dialect;
  if (dialect !== "sqlite" && dialect !== "postgres") {
    throw new LockstepDefinitionError(
      `Expected \`dialect\` to be "sqlite" or "postgres", got ${describeValue(dialect)}.`,
    );
  }
  const table = options.table ?? "lockstep_inbox";
  if (
    typeof table !== "string" ||
    !TABLE.test(table) ||
    (dialect === "sqlite" && table.includes("."))
  ) {
    throw new LockstepDefinitionError(
      `Expected \`table\` to be letters, digits and underscores${dialect === "postgres" ? " (optionally schema.table)" : ""}, got ${describeValue(table)}.`,
    );
  }
  const quoted = table
    .split(".")
    .map((part) => `"${part}"`)
    .join(".");
  const insert =
    dialect === "sqlite"
      ? `INSERT INTO ${quoted} (message_id, received_at) VALUES (?, ?) ON CONFLICT (message_id) DO NOTHING RETURNING message_id`
      : `INSERT INTO ${quoted} (message_id, received_at) VALUES ($1, $2) ON CONFLICT (message_id) DO NOTHING RETURNING message_id`;
  const integer = dialect === "sqlite" ? "INTEGER" : "bigint";
  return Object.freeze({
    createTable: `CREATE TABLE IF NOT EXISTS ${quoted} (message_id text NOT NULL PRIMARY KEY, received_at ${integer} NOT NULL)`,
    async receive(tx: InboxHandles[Dialect], messageId: string, now = Date.now()) {
      assertName("messageId", messageId);
      const rows =
        dialect === "sqlite"
          ? await (tx as SqliteInboxHandle).all(insert, [messageId, now])
          : (await (tx as PostgresInboxHandle).query(insert, [messageId, now])).rows;
      return rows.length === 1;
    },
  });
}
