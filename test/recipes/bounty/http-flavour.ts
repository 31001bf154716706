import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpDocumentStore } from "../../../src/adapters/http/index.js";
import { openSqlite, sqliteSagaLog, sqliteStore } from "../../../src/adapters/sqlite/index.js";
import { httpBountyStore } from "../../../src/recipes/bounty/http-ports.js";
import {
  createBountyTables,
  sqlClaimStore,
  sqlCredits,
} from "../../../src/recipes/bounty/sql-ports.js";
import { sqliteDialect } from "../../../src/recipes/sql-client.js";
import { startDocumentServer } from "../../adapters/http/document-server.js";
import { commitThenFail } from "./commit-then-fail.js";
import { BALANCES, BountyWorld, type Flavour } from "./harness.js";
import { IoTracker, trackedFetch } from "./real-io.js";

/** The document folder bounties live in; their status-index markers live under `_index/status/`. */
const BOUNTIES = "bounties";

/**
 * Bounties on an HTTP document store (a real node:http server on 127.0.0.1) with a status index;
 * the saga log, claims and credits in one SQLite file, so claim and credit steps co-commit with the
 * log while bounty steps are probed saga steps.
 *
 * A `post` fault on a bounty write is the SCENARIOS one: the document write lands, then the
 * status-index request after it fails (the service answers 500), so the call fails with
 * `documentCommitted`; the probe finds the bounty and a recovery pass repairs the index. A `post`
 * fault on a SQLite port lands its transaction, then fails.
 */
export const httpFlavour: Flavour = {
  name: "sqlite + http (bounties on a document store with a status index)",
  strategy: "saga",
  coCommitted: ["claims", "credits"],
  secondaryIndex: true,
  setup: async () => {
    const dir = mkdtempSync(join(tmpdir(), "lockstep-bounty-http-"));
    const db = openSqlite(join(dir, "bounty.db"));
    const server = await startDocumentServer();
    const io = new IoTracker();
    let armed: { fired: boolean } | undefined;
    const network = trackedFetch(io, (url, init) => globalThis.fetch(url, init));
    const documents = httpDocumentStore({
      baseUrl: server.baseUrl,
      statusIndex: { field: "status" },
      // The test service implements the fencing protocol.
      fencing: true,
      fetch: async (url, init) => {
        const marker = url.pathname.includes(`/_index/status/${BOUNTIES}/`);
        if (armed !== undefined && !armed.fired && init.method === "PUT" && marker) {
          armed.fired = true;
          return new Response("injected: the status index is unavailable", { status: 500 });
        }
        return network(url, init);
      },
    });
    const sqlite = commitThenFail(sqliteStore(db), [documents.handle]);
    const store = sqlite.store;
    await createBountyTables(sqliteDialect, store.handle);
    const credits = sqlCredits(store, sqliteDialect);
    await credits.seed(store.handle, BALANCES);
    const ports = {
      bounties: httpBountyStore(documents, { prefix: BOUNTIES }),
      claims: sqlClaimStore(store, sqliteDialect),
      credits,
    };
    return new BountyWorld(
      httpFlavour.name,
      ports,
      sqliteSagaLog(db),
      sqlite.postFault,
      async () => {
        await server.close();
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
      {
        io,
        armPost: (port, method) => {
          if (port !== "bounties" || (method !== "create" && method !== "transition"))
            return undefined;
          const current = { fired: false };
          armed = current;
          return () => {
            if (armed === current) armed = undefined;
            return current.fired;
          };
        },
      },
    );
  },
};
