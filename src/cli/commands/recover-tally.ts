import type { RecoveredSaga, RecoveryOutcome, RecoveryReport } from "../../recovery/recoverer.js";
import type { Session } from "../command.js";

/** The outcomes that end a saga cleanly. */
export const SETTLED: readonly RecoveryOutcome[] = ["completed", "compensated"];

/** One saga a worker recovered, for the report. */
export interface Recovered {
  readonly worker: number;
  readonly sagaId: string;
  readonly saga: string | undefined;
  readonly outcome: RecoveryOutcome;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Collects what every worker recovered, printing a line per saga unless `--json`. */
export class RecoveryTally {
  readonly #session: Session;
  readonly #recovered: Recovered[] = [];

  constructor(session: Session) {
    this.#session = session;
  }

  /** What was recovered so far, in the order passes reported it. */
  get recovered(): readonly Recovered[] {
    return this.#recovered;
  }

  /** Records the sagas of one pass of worker `worker`. */
  add(worker: number, report: RecoveryReport): void {
    for (const saga of report.sagas) {
      const entry = summarize(worker, saga);
      this.#recovered.push(entry);
      if (!this.#session.json) this.#session.output.out(progressLine(entry));
    }
  }

  /** How many recovered sagas ended each way, only the outcomes that occurred. */
  counts(): Partial<Record<RecoveryOutcome, number>> {
    const counts: Partial<Record<RecoveryOutcome, number>> = {};
    for (const r of this.#recovered) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
    return counts;
  }

  /** The counts in words, only the outcomes that occurred: `compensated 2, completed 1`. */
  countsText(): string {
    return Object.entries(this.counts())
      .map(([outcome, n]) => `${outcome} ${n}`)
      .join(", ");
  }

  /** The sagas that ended anything but completed or compensated. */
  unsettled(): readonly Recovered[] {
    return this.#recovered.filter((r) => !SETTLED.includes(r.outcome));
  }
}

function summarize(worker: number, saga: RecoveredSaga): Recovered {
  return {
    worker,
    sagaId: saga.sagaId,
    saga: saga.saga,
    outcome: saga.outcome,
    ...(saga.error === undefined
      ? {}
      : { error: { code: saga.error.code, message: saga.error.message } }),
  };
}

function progressLine(r: Recovered): string {
  const line = `[worker ${r.worker}] ${r.sagaId} ${r.saga ?? "(unreadable)"} -> ${r.outcome}`;
  return SETTLED.includes(r.outcome) || r.error === undefined
    ? line
    : `${line}: ${r.error.message}`;
}
