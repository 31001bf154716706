import { postgresSagaLog, postgresStore } from "lockstep/postgres";
import type pg from "pg";
import { openPool } from "../support/postgres.js";
import { postgresRows, threeStepSaga } from "../support/three-step-saga.js";

/** The saga's name in the log; the recoverer must be given the same definition. */
export const SAGA = "b4-recover";

/**
 * What B4's parent and its worker processes share: the saga log on one database, the saga's rows
 * on another (so each recovered step is an ordinary probed step, as after a real crash), and the
 * saga definition. `beforeStep` lets the parent make a run die inside a step.
 */
export function openRecoveryWorld(logUrl: string, appUrl: string, poolSize: number) {
  const logPool = openPool(logUrl, poolSize);
  const appPool = openPool(appUrl, poolSize);
  const hooks: { beforeStep: ((step: string) => void) | undefined } = { beforeStep: undefined };
  const rows = {
    ...postgresRows,
    insert: async (
      handle: Parameters<typeof postgresRows.insert>[0],
      id: string,
      sagaId: string,
      step: string,
    ) => {
      hooks.beforeStep?.(step);
      await postgresRows.insert(handle, id, sagaId, step);
    },
  };
  return {
    logPool,
    appPool,
    hooks,
    log: postgresSagaLog(logPool),
    saga: threeStepSaga(SAGA, postgresStore(appPool), rows),
    close: async () => {
      await Promise.all([logPool.end(), appPool.end()]);
    },
  };
}

export type RecoveryWorld = ReturnType<typeof openRecoveryWorld>;

/** The columns of a table, to clone its rows without spelling its layout out here. */
export async function columnsOf(
  pool: pg.Pool,
  table: string,
): Promise<{ name: string; text: boolean }[]> {
  const { rows } = await pool.query<{ column_name: string; data_type: string }>(
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
    [table],
  );
  return rows.map((r) => ({ name: r.column_name, text: r.data_type === "text" }));
}
