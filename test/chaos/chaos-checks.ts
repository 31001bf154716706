import type pg from "pg";
import type { PostgresSagaLog } from "../../src/adapters/postgres/index.js";
import { createRecoverer, createRunner, type Saga, systemClock } from "../../src/index.js";
import { INITIAL_TOTAL, inputOf, LOG_SCHEMA } from "./chaos-bank.js";

/** What the SQL checks found once recovery had nothing left to do. */
export interface ChaosVerdict {
  /** Sagas the log holds. */
  readonly sagas: number;
  /** Sagas per final status; `needs_attention` also per reason (`needs_attention:<reason>`). */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Sagas whose COMMITs were made slow (past or just before their deadline). */
  readonly slow: number;
  /** Effects (holds, orders, notices) present more than once for one saga. */
  readonly doubled: number;
  /** Every broken invariant, one line each; empty when the run was correct. */
  readonly anomalies: readonly string[];
  /** The money in accounts plus the money held, which must equal what the accounts opened with. */
  readonly total: number;
}

interface SagaRow {
  saga_id: string;
  status: string;
  reason: string | null;
  holds: number;
  held: number;
  captured: number;
  released: number;
}

/**
 * Runs recovery passes until one claims nothing, with a clock an hour ahead (every lease a run left
 * behind has lapsed) and a backoff of a few milliseconds (a saga recovery could not finish is due
 * again at once). Returns the number of passes and of sagas claimed.
 */
export async function recoverAll(
  log: PostgresSagaLog,
  // biome-ignore lint/suspicious/noExplicitAny: the registry takes a saga of any input.
  saga: Saga<any, any>,
): Promise<{ passes: number; claimed: number }> {
  const ahead = { now: () => Date.now() + 3_600_000, setTimer: systemClock.setTimer };
  const runner = createRunner({ log, clock: ahead, owner: "chaos-recovery", leaseTtlMs: 60_000 });
  const recoverer = createRecoverer({
    runner,
    sagas: [saga],
    backoff: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 },
  });
  let passes = 0;
  let claimed = 0;
  for (;;) {
    const pass = await recoverer.recover({ limit: 500, concurrency: 8 });
    if (pass.isErr()) throw new Error(`recovery failed: ${pass.error.message}`);
    passes++;
    claimed += pass.value.claimed;
    if (pass.value.claimed === 0) return { passes, claimed };
    if (passes > 50) throw new Error(`recovery still claimed sagas after ${passes} passes`);
  }
}

/** Reads the log and both stores and checks every saga's effects against its final status. */
export async function checkChaos(bank: pg.Pool, shop: pg.Pool): Promise<ChaosVerdict> {
  const sagas = `"${LOG_SCHEMA}"."lockstep_sagas"`;
  const { rows } = await bank.query<SagaRow>(
    `SELECT s.saga_id, s.status, (s.record::jsonb) -> 'attention' ->> 'reason' AS reason,
            count(h.id)::int AS holds,
            (count(*) FILTER (WHERE h.status = 'held'))::int AS held,
            (count(*) FILTER (WHERE h.status = 'captured'))::int AS captured,
            (count(*) FILTER (WHERE h.status = 'released'))::int AS released
     FROM ${sagas} s LEFT JOIN holds h ON h.saga_id = s.saga_id
     GROUP BY s.saga_id, s.status, reason`,
  );
  const countsBy = async (pool: pg.Pool, table: string) => {
    const result = await pool.query<{ saga_id: string; n: number }>(
      `SELECT saga_id, count(*)::int AS n FROM ${table} GROUP BY saga_id`,
    );
    return new Map(result.rows.map((r) => [r.saga_id, r.n]));
  };
  const orders = await countsBy(shop, "orders");
  const notices = await countsBy(shop, "notices");
  const { rows: orphanHolds } = await bank.query<{ saga_id: string }>(
    `SELECT DISTINCT saga_id FROM holds h WHERE NOT EXISTS (SELECT 1 FROM ${sagas} s WHERE s.saga_id = h.saga_id)`,
  );
  const { rows: money } = await bank.query<{ total: string }>(
    `SELECT (SELECT sum(balance) FROM accounts) +
            (SELECT coalesce(sum(amount), 0) FROM holds WHERE status = 'held') AS total`,
  );
  const total = Number(money[0]?.total);

  const anomalies: string[] = [];
  const outcomes: Record<string, number> = {};
  let doubled = 0;
  let slow = 0;
  const known = new Set<string>();
  for (const row of rows) {
    known.add(row.saga_id);
    const id = row.saga_id;
    const o = orders.get(id) ?? 0;
    const n = notices.get(id) ?? 0;
    const tag = row.status === "needs_attention" ? `needs_attention:${row.reason}` : row.status;
    outcomes[tag] = (outcomes[tag] ?? 0) + 1;
    const effects = `holds ${row.holds} (held ${row.held}, captured ${row.captured}, released ${row.released}), orders ${o}, notices ${n}`;
    if (row.holds > 1 || o > 1 || n > 1) {
      doubled++;
      anomalies.push(`${id} (${row.status}): an effect applied twice: ${effects}`);
    }
    const { decline: declined, slowMs } = inputOf(id);
    if (slowMs > 0) slow++;
    switch (row.status) {
      case "completed":
        if (declined || row.captured !== 1 || o !== 1 || n !== 1) {
          anomalies.push(
            `${id} completed, but ${effects}${declined ? " (its order is declined)" : ""}`,
          );
        }
        break;
      case "compensated":
        if (row.held + row.captured > 0 || o > 0 || n > 0) {
          anomalies.push(`${id} compensated, but ${effects}`);
        }
        break;
      case "needs_attention":
        if (row.reason === null) anomalies.push(`${id} needs attention without a reason`);
        if (o > 0 && row.released > 0)
          anomalies.push(`${id} released its hold under an order: ${effects}`);
        break;
      default:
        anomalies.push(`${id} stranded in ${row.status} after recovery: ${effects}`);
    }
  }
  for (const { saga_id } of orphanHolds) anomalies.push(`${saga_id}: a hold without a saga`);
  for (const [table, map] of [
    ["orders", orders],
    ["notices", notices],
  ] as const) {
    for (const id of map.keys()) {
      if (!known.has(id)) anomalies.push(`${id}: ${table} without a saga`);
    }
  }
  if (total !== INITIAL_TOTAL) {
    anomalies.push(`money not conserved: ${total} instead of ${INITIAL_TOTAL}`);
  }
  return { sagas: rows.length, outcomes, slow, doubled, anomalies, total };
}

/**
 * What the log and the stores hold for each of `sagaIds` (at most five): every log entry and every
 * row with the backend that wrote it and when, so an anomaly's report carries its reproduction.
 */
export async function evidence(
  log: PostgresSagaLog,
  bank: pg.Pool,
  shop: pg.Pool,
  sagaIds: readonly string[],
): Promise<string> {
  const lines: string[] = [];
  for (const id of sagaIds.slice(0, 5)) {
    const snapshot = await log.load(id).catch(() => undefined);
    lines.push(
      `saga ${id}: ${snapshot?.record.status ?? "(no record)"} ${JSON.stringify(inputOf(id))}`,
    );
    for (const e of snapshot?.entries ?? []) {
      const error =
        e.error === undefined ? "" : ` ${e.error.kind}: ${e.error.message.slice(0, 200)}`;
      lines.push(
        `  #${e.seq} ${e.step} ${e.type} attempt ${e.attempt} token ${e.token} at ${e.at}${e.via === undefined ? "" : ` via ${e.via}`}${error}`,
      );
    }
    const rows = async (pool: pg.Pool, table: string) =>
      (
        await pool.query(
          `SELECT *, (extract(epoch FROM at) * 1000)::bigint AS at_ms FROM ${table} WHERE saga_id = $1 ORDER BY id`,
          [id],
        )
      ).rows;
    lines.push(`  holds ${JSON.stringify(await rows(bank, "holds"))}`);
    lines.push(`  orders ${JSON.stringify(await rows(shop, "orders"))}`);
    lines.push(`  notices ${JSON.stringify(await rows(shop, "notices"))}`);
  }
  return lines.join("\n");
}
