import { LockstepDefinitionError, type StepStore, StoreError } from "../../index.js";
import {
  type SqlClient,
  type SqlDialect,
  spellingOf,
  tablePrefix,
  tableReads,
} from "../sql-client.js";
import { conflict, rejected } from "./cas-document.js";
import { applyTransition } from "./memory-ports.js";
import type { Balance, Bounty, Claim, Reservation } from "./model.js";
import {
  alreadyCaptured,
  existingClaim,
  existingReservation,
  found,
  heldReservation,
  takeClaim,
} from "./port-rules.js";
import type { BountyStore, ClaimOutcome, ClaimStore, CreditsService } from "./ports.js";

/** Options shared by the SQL ports. */
export interface SqlPortOptions {
  /**
   * Prefix of every table the ports create.
   * @default "bounty_"
   */
  readonly prefix?: string;
}

function tables(options: SqlPortOptions = {}) {
  const prefix = tablePrefix(options.prefix ?? "bounty_");
  return {
    bounties: `${prefix}bounties`,
    claims: `${prefix}claims`,
    balances: `${prefix}balances`,
    reservations: `${prefix}reservations`,
  };
}

/**
 * Creates the tables of the SQL bounty ports if they do not exist. Safe to run at every start.
 * Timestamps are milliseconds in 64-bit integers; a partial unique index allows one active claim per
 * target, so concurrent claimers cannot both win.
 */
export async function createBountyTables<Handle>(
  dialect: SqlDialect<Handle>,
  handle: Handle,
  options: SqlPortOptions = {},
): Promise<void> {
  const t = tables(options);
  const sql = dialect.client(handle);
  const { keyType: key, uniqueWhere } = spellingOf(dialect);
  const oneActive = uniqueWhere(
    t.claims,
    `${t.claims}_one_active`,
    "target_ref",
    "status = 'active'",
  );
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${t.bounties} (bounty_id ${key} PRIMARY KEY, title TEXT NOT NULL, amount BIGINT NOT NULL, creator TEXT NOT NULL, status TEXT NOT NULL, deadline BIGINT NOT NULL, reservation_id TEXT, claim_id TEXT, claimed_by TEXT, fulfilled_by TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, version BIGINT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${t.claims} (claim_id ${key} PRIMARY KEY, target_ref ${key} NOT NULL, agent_id TEXT NOT NULL, status TEXT NOT NULL, lease_expires_at BIGINT NOT NULL${oneActive.columns})`,
    ...oneActive.statements,
    `CREATE TABLE IF NOT EXISTS ${t.balances} (agent_id ${key} PRIMARY KEY, available BIGINT NOT NULL CHECK (available >= 0), reserved BIGINT NOT NULL CHECK (reserved >= 0))`,
    `CREATE TABLE IF NOT EXISTS ${t.reservations} (reservation_id ${key} PRIMARY KEY, agent_id TEXT NOT NULL, amount BIGINT NOT NULL, status TEXT NOT NULL, expires_at BIGINT NOT NULL, captured_to TEXT, capture_key TEXT)`,
  ];
  for (const statement of statements) await sql.exec(statement);
}

/**
 * Runs `work` atomically: directly when `handle` is already a transaction's (a co-committed step),
 * else in a transaction of its own.
 */
async function atomically<Handle, T>(
  store: StepStore<Handle>,
  dialect: SqlDialect<Handle>,
  handle: Handle,
  work: (sql: SqlClient) => Promise<T>,
): Promise<T> {
  if (handle !== store.handle) return work(dialect.client(handle));
  const transaction = store.transaction;
  if (transaction === undefined) {
    throw new LockstepDefinitionError(
      `The SQL bounty ports need a store with transactions; "${store.id}" declares none.`,
    );
  }
  const controller = new AbortController();
  return transaction((tx) => work(dialect.client(tx)), {
    signal: controller.signal,
    deadline: Number.MAX_SAFE_INTEGER,
  });
}

interface BountyRow {
  bounty_id: string;
  title: string;
  amount: number | string;
  creator: string;
  status: string;
  deadline: number | string;
  reservation_id: string | null;
  claim_id: string | null;
  claimed_by: string | null;
  fulfilled_by: string | null;
  created_at: number | string;
  updated_at: number | string;
  version: number | string;
}

function bountyOf(row: BountyRow): Bounty {
  return {
    bountyId: row.bounty_id,
    title: row.title,
    amount: Number(row.amount),
    creator: row.creator,
    status: row.status as Bounty["status"],
    deadline: Number(row.deadline),
    ...(row.reservation_id === null ? {} : { reservationId: row.reservation_id }),
    ...(row.claim_id === null ? {} : { claimId: row.claim_id }),
    ...(row.claimed_by === null ? {} : { claimedBy: row.claimed_by }),
    ...(row.fulfilled_by === null ? {} : { fulfilledByContributionId: row.fulfilled_by }),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    version: Number(row.version),
  };
}

const BOUNTY_COLUMNS = [
  "bounty_id",
  "title",
  "amount",
  "creator",
  "status",
  "deadline",
  "reservation_id",
  "claim_id",
  "claimed_by",
  "fulfilled_by",
  "created_at",
  "updated_at",
  "version",
];

/** Bounties in a SQL table; every transition is an `UPDATE … WHERE version = ?`. */
export function sqlBountyStore<Handle>(
  store: StepStore<Handle>,
  dialect: SqlDialect<Handle>,
  options: SqlPortOptions = {},
): BountyStore<Handle> {
  const t = tables(options);
  const { one: get, all } = tableReads(dialect, t.bounties, "bounty_id", bountyOf);
  const insert = spellingOf(dialect).insertOrIgnore(t.bounties, BOUNTY_COLUMNS, "bounty_id");
  return {
    store,
    get: (handle, bountyId) => get(dialect.client(handle), bountyId),
    create: (handle, b) =>
      atomically(store, dialect, handle, async (sql) => {
        const inserted = await sql.exec(insert, [
          b.bountyId,
          b.title,
          b.amount,
          b.creator,
          b.status,
          b.deadline,
          b.reservationId ?? null,
          b.claimId ?? null,
          b.claimedBy ?? null,
          b.fulfilledByContributionId ?? null,
          b.createdAt,
          b.updatedAt,
          b.version,
        ]);
        if (inserted === 1) return b;
        const existing = await get(sql, b.bountyId);
        if (existing?.reservationId === b.reservationId && existing !== undefined) return existing;
        return conflict(`Bounty "${b.bountyId}" already exists with another reservation.`);
      }),
    transition: (handle, bountyId, change) =>
      atomically(store, dialect, handle, async (sql) => {
        const current = await get(sql, bountyId);
        const next = applyTransition(current, bountyId, change);
        const updated = await sql.exec(
          `UPDATE ${t.bounties} SET status = ?, claim_id = ?, claimed_by = ?, fulfilled_by = ?, updated_at = ?, version = ? WHERE bounty_id = ? AND version = ?`,
          [
            next.status,
            next.claimId ?? null,
            next.claimedBy ?? null,
            next.fulfilledByContributionId ?? null,
            next.updatedAt,
            next.version,
            bountyId,
            current?.version,
          ],
        );
        if (updated === 0)
          return conflict(`Bounty "${bountyId}" changed while it was being moved to ${change.to}.`);
        return next;
      }),
    list: all,
    repairIndexes: async () => 0,
    indexDrift: async () => [],
  };
}

interface ClaimRow {
  claim_id: string;
  target_ref: string;
  agent_id: string;
  status: string;
  lease_expires_at: number | string;
}

function claimOf(row: ClaimRow): Claim {
  return {
    claimId: row.claim_id,
    targetRef: row.target_ref,
    agentId: row.agent_id,
    status: row.status as Claim["status"],
    leaseExpiresAt: Number(row.lease_expires_at),
  };
}

/** Claims in a SQL table, with at most one active claim per target enforced by a unique index. */
export function sqlClaimStore<Handle>(
  store: StepStore<Handle>,
  dialect: SqlDialect<Handle>,
  options: SqlPortOptions = {},
): ClaimStore<Handle> {
  const t = tables(options);
  const { one: get, all } = tableReads(dialect, t.claims, "claim_id", claimOf);
  return {
    store,
    claimOrRenew: (handle, request) =>
      atomically(store, dialect, handle, async (sql): Promise<ClaimOutcome> => {
        const { claimId, targetRef, now } = request;
        await sql.exec(
          `UPDATE ${t.claims} SET status = 'expired' WHERE target_ref = ? AND status = 'active' AND lease_expires_at <= ?`,
          [targetRef, now],
        );
        const replayed = existingClaim(await get(sql, claimId), claimId);
        if (replayed !== undefined) return replayed;
        const liveRow = await sql.one<ClaimRow>(
          `SELECT * FROM ${t.claims} WHERE target_ref = ? AND status = 'active'`,
          [targetRef],
        );
        const outcome = takeClaim(liveRow === undefined ? undefined : claimOf(liveRow), request);
        const { claim } = outcome;
        if (outcome.renewed) {
          await sql.exec(
            `UPDATE ${t.claims} SET lease_expires_at = ? WHERE claim_id = ? AND status = 'active'`,
            [claim.leaseExpiresAt, claim.claimId],
          );
        } else {
          await sql.exec(
            `INSERT INTO ${t.claims} (claim_id, target_ref, agent_id, status, lease_expires_at) VALUES (?, ?, ?, 'active', ?)`,
            [claimId, targetRef, claim.agentId, claim.leaseExpiresAt],
          );
        }
        return outcome;
      }),
    get: (handle, claimId) => get(dialect.client(handle), claimId),
    release: async (handle, claimId) =>
      (await dialect
        .client(handle)
        .exec(
          `UPDATE ${t.claims} SET status = 'released' WHERE claim_id = ? AND status = 'active'`,
          [claimId],
        )) === 1,
    complete: (handle, claimId) =>
      atomically(store, dialect, handle, async (sql) => {
        await sql.exec(
          `UPDATE ${t.claims} SET status = 'completed' WHERE claim_id = ? AND status <> 'completed'`,
          [claimId],
        );
        const claim = await get(sql, claimId);
        return claim ?? rejected(`Claim "${claimId}" does not exist.`);
      }),
    list: all,
  };
}

interface ReservationRow {
  reservation_id: string;
  agent_id: string;
  amount: number | string;
  status: string;
  expires_at: number | string;
  captured_to: string | null;
}

function reservationOf(row: ReservationRow): Reservation {
  return {
    reservationId: row.reservation_id,
    agentId: row.agent_id,
    amount: Number(row.amount),
    status: row.status as Reservation["status"],
    expiresAt: Number(row.expires_at),
    ...(row.captured_to === null ? {} : { capturedTo: row.captured_to }),
  };
}

/** A credits ledger in SQL tables: balances and reservations move together in one transaction. */
export function sqlCredits<Handle>(
  store: StepStore<Handle>,
  dialect: SqlDialect<Handle>,
  options: SqlPortOptions = {},
): CreditsService<Handle> & {
  seed(handle: Handle, balances: Readonly<Record<string, number>>): Promise<void>;
} {
  const t = tables(options);
  const { one: get, all } = tableReads(dialect, t.reservations, "reservation_id", reservationOf);
  const { upsert } = spellingOf(dialect);
  const columns = ["agent_id", "available", "reserved"];
  const addTo = upsert(t.balances, columns, "agent_id", ({ proposed, existing }) => ({
    available: `${existing("available")} + ${proposed("available")}`,
  }));
  const setTo = upsert(t.balances, columns, "agent_id", ({ proposed }) => ({
    available: proposed("available"),
  }));
  const credit = (sql: SqlClient, agentId: string, amount: number) =>
    sql.exec(addTo, [agentId, amount, 0]);
  return {
    store,
    seed: (handle, balances) =>
      atomically(store, dialect, handle, async (sql) => {
        for (const [agent, available] of Object.entries(balances)) {
          await sql.exec(setTo, [agent, available, 0]);
        }
      }),
    reserve: (handle, request) =>
      atomically(store, dialect, handle, async (sql) => {
        const { reservationId, agentId, amount, timeoutMs, now } = request;
        const existing = existingReservation(await get(sql, reservationId), request);
        if (existing !== undefined) return existing;
        const held = await sql.exec(
          `UPDATE ${t.balances} SET available = available - ?, reserved = reserved + ? WHERE agent_id = ? AND available >= ?`,
          [amount, amount, agentId, amount],
        );
        if (held === 0) return rejected(`${agentId} does not have ${amount} credits available.`);
        await sql.exec(
          `INSERT INTO ${t.reservations} (reservation_id, agent_id, amount, status, expires_at, captured_to, capture_key) VALUES (?, ?, ?, 'held', ?, NULL, NULL)`,
          [reservationId, agentId, amount, now + timeoutMs],
        );
        return heldReservation(request);
      }),
    capture: (handle, request) =>
      atomically(store, dialect, handle, async (sql) => {
        const { reservationId, toAgentId, idempotencyKey } = request;
        const r = found(await get(sql, reservationId), reservationId);
        if (alreadyCaptured(r, request)) return r;
        const moved = await sql.exec(
          `UPDATE ${t.reservations} SET status = 'captured', captured_to = ?, capture_key = ? WHERE reservation_id = ? AND status = 'held'`,
          [toAgentId, idempotencyKey, reservationId],
        );
        if (moved === 0)
          throw new StoreError(
            "conflict",
            `Reservation "${reservationId}" changed while being captured.`,
          );
        await sql.exec(`UPDATE ${t.balances} SET reserved = reserved - ? WHERE agent_id = ?`, [
          r.amount,
          r.agentId,
        ]);
        await credit(sql, toAgentId, r.amount);
        return { ...r, status: "captured" as const, capturedTo: toAgentId };
      }),
    void: (handle, reservationId) =>
      atomically(store, dialect, handle, async (sql) => {
        const r = found(await get(sql, reservationId), reservationId);
        if (r.status !== "held") return r;
        const voided = await sql.exec(
          `UPDATE ${t.reservations} SET status = 'voided' WHERE reservation_id = ? AND status = 'held'`,
          [reservationId],
        );
        if (voided === 1) {
          await sql.exec(
            `UPDATE ${t.balances} SET available = available + ?, reserved = reserved - ? WHERE agent_id = ?`,
            [r.amount, r.amount, r.agentId],
          );
        }
        return { ...r, status: "voided" as const };
      }),
    get: (handle, reservationId) => get(dialect.client(handle), reservationId),
    list: all,
    balance: async (handle, agentId): Promise<Balance> => {
      const row = await dialect
        .client(handle)
        .one<{ available: number | string; reserved: number | string }>(
          `SELECT available, reserved FROM ${t.balances} WHERE agent_id = ?`,
          [agentId],
        );
      return { available: Number(row?.available ?? 0), reserved: Number(row?.reserved ?? 0) };
    },
    total: async (handle) => {
      const row = await dialect
        .client(handle)
        .one<{ total: number | string | null }>(
          `SELECT SUM(available + reserved) AS total FROM ${t.balances}`,
        );
      return Number(row?.total ?? 0);
    },
  };
}
