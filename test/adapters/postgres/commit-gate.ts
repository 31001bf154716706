import type pg from "pg";

/**
 * Holds COMMIT of any transaction that inserted into a table, at a point the test chooses: a deferred
 * constraint trigger (it runs inside COMMIT) waits on an advisory lock the test holds. While held,
 * the committing backend sits in COMMIT, so the test can terminate it there, deterministically.
 */
export interface CommitGate {
  /** Takes the lock: from now on, COMMITs of inserts into the table wait. */
  close(): Promise<void>;
  /** The pid of a backend of `applicationName` waiting in COMMIT on the gate; waits for one. */
  blockedCommit(applicationName: string): Promise<number>;
  /** Terminates a backend, as an operator or a failover would, and waits until it is gone. */
  terminate(pid: number): Promise<void>;
  /** Releases the lock: waiting COMMITs go on. */
  open(): Promise<void>;
}

let nextKey = 7_000;

/** Installs the gate's trigger on `table` (schema-qualified) through `admin`. */
export async function installCommitGate(admin: pg.Pool, table: string): Promise<CommitGate> {
  const key = nextKey++ + Math.floor(Math.random() * 1_000_000);
  const fn = `${table.replace(/"$/, "")}_gate"`;
  await admin.query(`
    CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock_shared(${key}); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER commit_gate AFTER INSERT ON ${table}
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${fn}();`);
  let holder: pg.PoolClient | undefined;
  return {
    close: async () => {
      holder = await admin.connect();
      await holder.query("SELECT pg_advisory_lock($1)", [key]);
    },
    blockedCommit: (applicationName) =>
      waitFor(`a COMMIT of "${applicationName}" waiting on the gate`, async () => {
        const { rows } = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
           WHERE application_name = $1 AND query = 'COMMIT' AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
          [applicationName],
        );
        return rows[0]?.pid;
      }),
    terminate: async (pid) => {
      await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      await waitFor(`backend ${pid} to exit`, async () => {
        const { rows } = await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
        return rows.length === 0 ? true : undefined;
      });
    },
    open: async () => {
      if (holder === undefined) return;
      await holder.query("SELECT pg_advisory_unlock($1)", [key]);
      holder.release();
      holder = undefined;
    },
  };
}

/** Polls `probe` until it returns a value; a wait for the server, not a timing assertion. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 2_000; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Gave up waiting for ${what}.`);
}
