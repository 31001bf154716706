/**
 * relaycast's five write paths, written once against lockstep's `runAtomic`: a channel message, a
 * DM, a group DM and a thread reply each write the message, its attachments, one delivery per
 * recipient and a message_log row; markRead writes a receipt, moves the reader's delivery from
 * `delivered` to `read` (guarded) and advances the member's `last_read_id`.
 *
 * Every write is a plain SQL statement with the undo that reverses it, so the same code runs on a
 * store with transactions (better-sqlite3: one transaction), with atomic batches only (D1: one
 * batch) and with neither (sequential writes, each undone if a later one fails).
 */
import { type AtomicWrite, runAtomic, type WriteStore } from "lockstep";

/** One statement, as the SQLite, D1 and libSQL stores take it. */
export interface RelayWrite {
  readonly sql: string;
  readonly params?: readonly unknown[];
  readonly guarded?: boolean;
}

/** A store the relay writes to: any lockstep store whose prepared writes are SQL statements. */
// biome-ignore lint/suspicious/noExplicitAny: the handle and result types differ by store.
export type RelayStore = WriteStore<any, RelayWrite, any>;

/** The schema the relay writes; `CREATE TABLE` statements, one per string. */
export const RELAY_SCHEMA: readonly string[] = [
  "CREATE TABLE messages (id TEXT PRIMARY KEY, conversation TEXT NOT NULL, parent_id TEXT, author TEXT NOT NULL, body TEXT NOT NULL)",
  "CREATE TABLE attachments (id TEXT PRIMARY KEY, message_id TEXT NOT NULL, url TEXT NOT NULL)",
  "CREATE TABLE deliveries (message_id TEXT NOT NULL, recipient TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (message_id, recipient))",
  "CREATE TABLE message_log (message_id TEXT PRIMARY KEY, kind TEXT NOT NULL)",
  "CREATE TABLE receipts (message_id TEXT NOT NULL, reader TEXT NOT NULL, PRIMARY KEY (message_id, reader))",
  "CREATE TABLE members (conversation TEXT NOT NULL, member TEXT NOT NULL, last_read_id TEXT, PRIMARY KEY (conversation, member))",
];

/** What a send writes. */
export interface Send {
  readonly id: string;
  readonly conversation: string;
  readonly author: string;
  readonly body: string;
  readonly recipients: readonly string[];
  readonly attachments?: readonly string[];
  /** For a thread reply: the message replied to. */
  readonly parentId?: string;
}

/** Options every path takes: `require: "atomic"` refuses, before writing, a store with neither. */
export interface RelayOptions {
  readonly require?: "atomic" | "any";
}

type Write = AtomicWrite<unknown, RelayWrite, unknown>;

const insert = (name: string, sql: string, params: unknown[], undo: RelayWrite): Write => ({
  name,
  build: () => ({ sql, params }),
  undo: () => ({ ...undo, guarded: false }),
});

function sendWrites(send: Send, kind: string): Write[] {
  const writes: Write[] = [
    insert(
      "message",
      "INSERT INTO messages (id, conversation, parent_id, author, body) VALUES (?, ?, ?, ?, ?)",
      [send.id, send.conversation, send.parentId ?? null, send.author, send.body],
      { sql: "DELETE FROM messages WHERE id = ?", params: [send.id] },
    ),
  ];
  (send.attachments ?? []).forEach((url, i) => {
    const id = `${send.id}:a${i}`;
    writes.push(
      insert(
        "attachment",
        "INSERT INTO attachments (id, message_id, url) VALUES (?, ?, ?)",
        [id, send.id, url],
        {
          sql: "DELETE FROM attachments WHERE id = ?",
          params: [id],
        },
      ),
    );
  });
  for (const recipient of send.recipients) {
    writes.push(
      insert(
        "delivery",
        "INSERT INTO deliveries (message_id, recipient, state) VALUES (?, ?, 'delivered')",
        [send.id, recipient],
        {
          sql: "DELETE FROM deliveries WHERE message_id = ? AND recipient = ?",
          params: [send.id, recipient],
        },
      ),
    );
  }
  writes.push(
    insert(
      "message_log",
      "INSERT INTO message_log (message_id, kind) VALUES (?, ?)",
      [send.id, kind],
      {
        sql: "DELETE FROM message_log WHERE message_id = ?",
        params: [send.id],
      },
    ),
  );
  return writes;
}

async function send(store: RelayStore, writes: Write[], options: RelayOptions) {
  return runAtomic(store, writes, { require: options.require ?? "any" });
}

/** Sends a message to a channel's members. */
export function sendChannelMessage(store: RelayStore, message: Send, options: RelayOptions = {}) {
  return send(store, sendWrites(message, "channel"), options);
}

/** Sends a direct message to one recipient. */
export function sendDm(store: RelayStore, message: Send, options: RelayOptions = {}) {
  return send(store, sendWrites(message, "dm"), options);
}

/** Sends a message to a group DM's members. */
export function sendGroupDm(store: RelayStore, message: Send, options: RelayOptions = {}) {
  return send(store, sendWrites(message, "group_dm"), options);
}

/** Replies in a thread: a message whose `parentId` is the message replied to. */
export function replyInThread(
  store: RelayStore,
  message: Send & { readonly parentId: string },
  options: RelayOptions = {},
) {
  return send(store, sendWrites(message, "thread_reply"), options);
}

/**
 * Marks a message read: the receipt, the reader's delivery from `delivered` to `read` (guarded: a
 * delivery already read, or missing, is a conflict and nothing is written), and the member's
 * `last_read_id`.
 */
export function markRead(
  store: RelayStore,
  read: {
    readonly messageId: string;
    readonly conversation: string;
    readonly reader: string;
    readonly previousReadId: string | null;
  },
  options: RelayOptions = {},
) {
  const { messageId, conversation, reader, previousReadId } = read;
  return runAtomic(
    store,
    [
      insert(
        "receipt",
        "INSERT INTO receipts (message_id, reader) VALUES (?, ?)",
        [messageId, reader],
        {
          sql: "DELETE FROM receipts WHERE message_id = ? AND reader = ?",
          params: [messageId, reader],
        },
      ),
      {
        name: "delivery_read",
        guarded: true,
        build: () => ({
          sql: "UPDATE deliveries SET state = 'read' WHERE message_id = ? AND recipient = ? AND state = 'delivered'",
          params: [messageId, reader],
          guarded: true,
        }),
        undo: () => ({
          sql: "UPDATE deliveries SET state = 'delivered' WHERE message_id = ? AND recipient = ? AND state = 'read'",
          params: [messageId, reader],
        }),
      },
      {
        name: "last_read",
        guarded: true,
        build: () => ({
          sql: "UPDATE members SET last_read_id = ? WHERE conversation = ? AND member = ?",
          params: [messageId, conversation, reader],
          guarded: true,
        }),
        undo: () => ({
          sql: "UPDATE members SET last_read_id = ? WHERE conversation = ? AND member = ? AND last_read_id = ?",
          params: [previousReadId, conversation, reader, messageId],
        }),
      },
    ],
    { require: options.require ?? "any" },
  );
}
