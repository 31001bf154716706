import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { SagaLog } from "lockstep";
import {
  type BountyPorts,
  createBountyTables,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
  sqliteDialect,
} from "lockstep/bounty";
import {
  type ContributionPorts,
  createContributionTables,
  sqlContributionStore,
  sqlHandoffStore,
} from "lockstep/contribution";
import { openSqlite, type SqliteDatabase, sqliteSagaLog, sqliteStore } from "lockstep/sqlite";

/** The demo's files: where a fresh run writes and where `lockstep` CLI commands can look. */
export const DEMO_DIR = ".lockstep-demo";

/**
 * The marketplace: `marketplace.db` holds the saga log, bounties, claims, contributions and
 * handoffs (so steps on it commit together with their log records); `ledger.db` is the credits
 * ledger, a separate database the way a payments service is, reached through its own connection.
 */
export interface Marketplace {
  readonly marketplace: SqliteDatabase;
  readonly ledger: SqliteDatabase;
  readonly log: SagaLog;
  readonly bounty: BountyPorts & { readonly credits: ReturnType<typeof sqlCredits> };
  readonly contribution: ContributionPorts;
  close(): void;
}

export function openMarketplace(dir = DEMO_DIR): Marketplace {
  mkdirSync(dir, { recursive: true });
  const marketplace = openSqlite(join(dir, "marketplace.db"));
  const ledger = openSqlite(join(dir, "ledger.db"));
  const main = sqliteStore(marketplace);
  const payments = sqliteStore(ledger);
  return {
    marketplace,
    ledger,
    log: sqliteSagaLog(marketplace),
    bounty: {
      bounties: sqlBountyStore(main, sqliteDialect),
      claims: sqlClaimStore(main, sqliteDialect),
      credits: sqlCredits(payments, sqliteDialect),
    },
    contribution: {
      contributions: sqlContributionStore(main, sqliteDialect),
      handoffs: sqlHandoffStore(main, sqliteDialect),
    },
    close() {
      marketplace.close();
      ledger.close();
    },
  };
}

/** Creates every table; safe on every start. */
export async function createTables(m: Marketplace): Promise<void> {
  await createBountyTables(sqliteDialect, m.bounty.bounties.store.handle);
  await createBountyTables(sqliteDialect, m.bounty.credits.store.handle);
  await createContributionTables(sqliteDialect, m.contribution.contributions.store.handle);
}
