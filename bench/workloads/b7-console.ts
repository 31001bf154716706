import { join } from "node:path";
import { HEADER_COLUMNS, headerValues } from "../../src/adapters/sql/saga-rows.js";
import { openSqlite, sqliteSagaLog } from "../../src/adapters/sqlite/index.js";
import { listPage, parseListQuery } from "../../src/console/list-page.js";
import {
  AttentionReason,
  type SagaRecord,
  type SagaStatus,
  SCHEMA_VERSION,
} from "../../src/index.js";
import { ms, type Row, targetAtMost } from "../support/report.js";
import { openRawSqlite, tempDir } from "../support/sqlite.js";
import { median } from "../support/stats.js";

const T0 = Date.UTC(2026, 0, 1);
const REASONS = Object.values(AttentionReason);
const ROUNDS = 60;
const PAGE = 50;

/** Which status the `i`-th saga gets: mostly finished, a few stuck, as a long-lived log holds them. */
function statusOf(i: number): SagaStatus {
  const bucket = i % 100;
  if (bucket < 80) return "completed";
  if (bucket < 90) return "compensated";
  if (bucket < 95) return "running";
  if (bucket < 99) return "needs_attention";
  return "in_doubt";
}

/**
 * Writes `count` sagas into a new SQLite log in one transaction, each header exactly as the log
 * stores it (the shared row mapping), then opens the log, which creates its indexes.
 */
async function fill(path: string, count: number): Promise<void> {
  const db = openSqlite(path);
  // The log creates its tables and indexes before its first operation answers.
  await sqliteSagaLog(db).list({ limit: 1 });
  db.close();
  const raw = openRawSqlite(path);
  raw.pragma("synchronous = OFF");
  const insert = raw.prepare(
    `INSERT INTO "lockstep_sagas" (${HEADER_COLUMNS.join(", ")}) VALUES (${HEADER_COLUMNS.map(() => "?").join(", ")})`,
  );
  raw.transaction(() => {
    for (let i = 0; i < count; i++) {
      const status = statusOf(i);
      const record: SagaRecord = {
        schemaVersion: SCHEMA_VERSION,
        sagaId: `01BENCH${String(i).padStart(10, "0")}`,
        definition: {
          name: i % 3 === 0 ? "bounty.settle" : "bounty.create",
          version: 1,
          steps: [
            { name: "reserve", kind: "compensatable", store: "db", probe: true, compensate: true },
          ],
        },
        input: { bountyId: `bounty-${i}`, amount: i % 1000 },
        status,
        attention:
          status === "needs_attention"
            ? {
                reason: REASONS[i % REASONS.length] as AttentionReason,
                step: "reserve",
                message: "stuck",
              }
            : null,
        fencingToken: 1,
        leaseOwner: null,
        leaseExpiresAt: null,
        recoveryAttempts: 0,
        nextRecoveryAt: 0,
        createdAt: T0 + i * 1_000,
        updatedAt: T0 + i * 1_000 + 500,
      };
      insert.run(...(headerValues(record) as unknown[]));
    }
  })();
  raw.pragma("optimize");
  raw.close();
}

/** The console's list page over the log at `path`, rendered in process: parse, query, render. */
function open(path: string) {
  const db = openSqlite(path);
  const log = sqliteSagaLog(db);
  return {
    async render(page: string): Promise<number> {
      const started = performance.now();
      const query = parseListQuery(new URL(page, "http://bench.invalid").searchParams, PAGE);
      const response = await listPage(log, query, PAGE);
      const elapsed = performance.now() - started;
      if (response.status !== 200 || !response.body.includes('data-testid="sagas"')) {
        throw new Error(`B7: ${page} rendered ${response.status}`);
      }
      return elapsed;
    },
    close: () => db.close(),
  };
}

/**
 * The median time of each page on each log, the two logs alternating request by request so that a
 * burst of load on the machine lands on both alike; the first rounds warm up and are discarded.
 */
async function timePages(
  small: string,
  large: string,
): Promise<{ small: number[]; large: number[] }> {
  const a = open(small);
  const b = open(large);
  try {
    const pagesSmall = pagesOf(1_000);
    const pagesLarge = pagesOf(100_000);
    const times = {
      small: pagesSmall.map((): number[] => []),
      large: pagesLarge.map((): number[] => []),
    };
    for (let round = -5; round < ROUNDS; round++) {
      for (let i = 0; i < pagesSmall.length; i++) {
        const t1 = await a.render(pagesSmall[i] as string);
        const t2 = await b.render(pagesLarge[i] as string);
        if (round >= 0) {
          times.small[i]?.push(t1);
          times.large[i]?.push(t2);
        }
      }
    }
    return { small: times.small.map(median), large: times.large.map(median) };
  } finally {
    a.close();
    b.close();
  }
}

/** The pages timed: the first page, one 90% deep by keyset cursor, and two filtered lists. */
function pagesOf(count: number): string[] {
  const deep = Math.floor(count * 0.1);
  return [
    "/sagas",
    `/sagas?before_time=${T0 + deep * 1_000}&before_id=01BENCH${String(deep).padStart(10, "0")}`,
    "/sagas?status=needs_attention",
    "/sagas?status=needs_attention&order=updated",
    "/sagas?name=bounty.settle",
  ];
}

const WHAT = [
  "first page (50 sagas)",
  "a page 90% deep, by keyset cursor",
  "filtered by status (needs_attention, 4% of sagas)",
  "filtered by status, newest by update",
  "filtered by name (a third of sagas)",
];

/**
 * B7: the console's sagas list page (query string parsed, log listed, HTML rendered) on a SQLite log of
 * 100,000 sagas against one of 1,000, page by page: the list must not slow down with the log.
 */
export async function benchConsole(): Promise<Row[]> {
  const dir = tempDir("console");
  try {
    const small = join(dir.path, "small.db");
    const large = join(dir.path, "large.db");
    await fill(small, 1_000);
    await fill(large, 100_000);
    const { small: base, large: big } = await timePages(small, large);
    return WHAT.map((what, i) => {
      const ratio = (big[i] as number) / (base[i] as number);
      return {
        id: "B7",
        what: `console sagas list, ${what}: median over ${ROUNDS} renders`,
        lockstep: `${ms(big[i] as number)} (100,000 sagas)`,
        baseline: `${ms(base[i] as number)} (1,000 sagas)`,
        ratio,
        ratioIs: "time at 100k ÷ time at 1k",
        ...targetAtMost(1.5, ratio),
      };
    });
  } finally {
    if (process.env.KEEP_BENCH_DB === undefined) dir.remove();
    else console.error(dir.path);
  }
}
