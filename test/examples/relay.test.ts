import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  markRead,
  RELAY_SCHEMA,
  type RelayStore,
  replyInThread,
  sendChannelMessage,
  sendDm,
  sendGroupDm,
} from "../../examples/relay/relay.js";
import { d1Store } from "../../src/adapters/d1/index.js";
import { openSqlite, sqliteStore } from "../../src/adapters/sqlite/index.js";
import { defineStore } from "../../src/index.js";
import { testD1 } from "../adapters/d1/d1-test.js";

const TABLES = ["messages", "attachments", "deliveries", "message_log", "receipts", "members"];

interface Tier {
  readonly name: string;
  readonly strategy: "transaction" | "batch" | "sequential";
  open(): Promise<{ store: RelayStore; close(): Promise<void> }>;
}

let d1Runs = 0;

const TIERS: readonly Tier[] = [
  {
    name: "D1 (one batch)",
    strategy: "batch",
    open: async () => {
      const db = await testD1();
      const store = d1Store(db, { id: "relay-d1", tablePrefix: `relay${++d1Runs}_` });
      for (const table of TABLES) await store.handle.run(`DROP TABLE IF EXISTS ${table}`);
      return { store, close: async () => {} };
    },
  },
  {
    name: "better-sqlite3 (one transaction)",
    strategy: "transaction",
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "lockstep-relay-"));
      const db = openSqlite(join(dir, "relay.db"));
      return {
        store: sqliteStore(db, { id: "relay-sqlite" }),
        close: async () => {
          db.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "SQLite with its transactions stripped (neither: sequential writes, undone on failure)",
    strategy: "sequential",
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "lockstep-relay-"));
      const db = openSqlite(join(dir, "relay.db"));
      const full = sqliteStore(db, { id: "relay-plain" });
      const store = defineStore({
        id: full.id,
        handle: full.handle,
        capabilities: { conditionalWrite: true },
        apply: full.apply,
        affected: full.affected,
        classifyError: full.classifyError as NonNullable<typeof full.classifyError>,
        fence: { mode: "in_process" },
      });
      return {
        store,
        close: async () => {
          db.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

for (const tier of TIERS) {
  describe(`relaycast's write paths on ${tier.name}`, () => {
    let store: RelayStore;
    let close: () => Promise<void>;
    const count = async (table: string) =>
      Number((await store.handle.all(`SELECT count(*) AS n FROM ${table}`))[0].n);
    const counts = async () =>
      Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await count(t)])));
    const message = (id: string, recipients: string[], extra = {}) => ({
      id,
      conversation: "general",
      author: "ann",
      body: `hello ${id}`,
      recipients,
      attachments: ["https://files/a.png"],
      ...extra,
    });

    beforeEach(async () => {
      ({ store, close } = await tier.open());
      for (const sql of RELAY_SCHEMA) await store.handle.run(sql);
    });
    afterEach(() => close());

    it("a channel message whose deliveries insert fails leaves no orphan rows", async () => {
      // Bob already has a delivery row for m-1: the send's insert of it fails.
      await store.handle.run("INSERT INTO deliveries VALUES ('m-1', 'bob', 'delivered')");
      const result = await sendChannelMessage(store, message("m-1", ["amy", "bob", "cat"]));
      expect(result.isErr()).toBe(true);
      expect(await counts()).toEqual({ ...zero(), deliveries: 1 });
    });

    it("a DM whose delivery insert fails leaves no orphan rows", async () => {
      await store.handle.run("INSERT INTO deliveries VALUES ('dm-1', 'bob', 'delivered')");
      const result = await sendDm(store, message("dm-1", ["bob"], { conversation: "dm:ann:bob" }));
      expect(result.isErr()).toBe(true);
      expect(await counts()).toEqual({ ...zero(), deliveries: 1 });
    });

    it("a markRead whose last write fails rolls back all three writes", async () => {
      expect(
        (await sendChannelMessage(store, message("m-2", ["bob"])))._unsafeUnwrap().strategy,
      ).toBe(tier.strategy);
      // Bob is not a member: the last_read_id update matches nothing, a lost guard.
      const result = await markRead(store, {
        messageId: "m-2",
        conversation: "general",
        reader: "bob",
        previousReadId: null,
      });
      expect(result._unsafeUnwrapErr().code).toBe("conflict");
      expect(await count("receipts")).toBe(0);
      expect(
        await store.handle.all("SELECT state FROM deliveries WHERE message_id = 'm-2'"),
      ).toEqual([{ state: "delivered" }]);
    });

    it("markRead writes the receipt, the delivery transition and last_read_id together", async () => {
      await sendChannelMessage(store, message("m-3", ["bob"]));
      await store.handle.run("INSERT INTO members VALUES ('general', 'bob', NULL)");
      const read = {
        messageId: "m-3",
        conversation: "general",
        reader: "bob",
        previousReadId: null,
      };
      expect((await markRead(store, read)).isOk()).toBe(true);
      expect(
        await store.handle.all("SELECT state FROM deliveries WHERE message_id = 'm-3'"),
      ).toEqual([{ state: "read" }]);
      expect(await store.handle.all("SELECT last_read_id FROM members")).toEqual([
        { last_read_id: "m-3" },
      ]);
      expect((await markRead(store, read)).isErr(), "reading twice is refused, not doubled").toBe(
        true,
      );
      expect(await count("receipts")).toBe(1);
    });

    it("five concurrent sends all commit", async () => {
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => sendChannelMessage(store, message(`c-${n}`, ["amy", "bob"]))),
      );
      expect(results.map((r) => r.isOk())).toEqual([true, true, true, true, true]);
      expect(await counts()).toMatchObject({
        messages: 5,
        attachments: 5,
        deliveries: 10,
        message_log: 5,
      });
    });

    it("group DMs and thread replies go through the same paths", async () => {
      expect(
        (
          await sendGroupDm(store, message("g-1", ["amy", "bob"], { conversation: "group:1" }))
        ).isOk(),
      ).toBe(true);
      expect(
        (await replyInThread(store, { ...message("r-1", ["amy"]), parentId: "g-1" })).isOk(),
      ).toBe(true);
      expect(await store.handle.all("SELECT kind FROM message_log ORDER BY message_id")).toEqual([
        { kind: "group_dm" },
        { kind: "thread_reply" },
      ]);
    });

    it(
      tier.strategy === "sequential"
        ? 'require: "atomic" refuses before writing anything'
        : 'require: "atomic" is met by the store itself',
      async () => {
        const result = await sendChannelMessage(store, message("a-1", ["bob"]), {
          require: "atomic",
        });
        if (tier.strategy === "sequential") {
          expect(result._unsafeUnwrapErr().code).toBe("atomicity_unavailable");
          expect(await counts()).toEqual(zero());
        } else {
          expect(result._unsafeUnwrap().strategy).toBe(tier.strategy);
        }
      },
    );
  });
}

function zero(): Record<string, number> {
  return Object.fromEntries(TABLES.map((t) => [t, 0]));
}
