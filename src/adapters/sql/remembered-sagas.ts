import { TERMINAL_STATUSES } from "../../model/records.js";
import type { WrittenSaga } from "./saga-log-operations.js";

/** How many sagas' headers a log remembers for one-statement writes; the oldest is forgotten first. */
const REMEMBERED_SAGAS = 10_000;

/**
 * The header of each saga a log last created, wrote or loaded, as it then stood in the row, in the
 * order they were remembered. Only a hint: the one-statement write checks it against the row, so a
 * header remembered wrongly costs a round trip, never a wrong write.
 */
export class RememberedSagas {
  readonly #sagas = new Map<string, WrittenSaga>();

  /**
   * The saga's remembered header, forgotten while the caller's write is in flight: a concurrent
   * write of the same saga by this log would start from the header this one is replacing, so it
   * takes the locking way at once.
   */
  take(sagaId: string): WrittenSaga | undefined {
    const prior = this.#sagas.get(sagaId);
    this.#sagas.delete(sagaId);
    return prior;
  }

  /**
   * Remembers a saga's header for the next write's one statement, unless it is terminal (nothing is
   * expected to write to it), forgetting the oldest remembered saga beyond the limit.
   */
  remember(written: WrittenSaga): void {
    const sagaId = written.record.sagaId;
    this.#sagas.delete(sagaId);
    if (TERMINAL_STATUSES.includes(written.record.status)) return;
    this.#sagas.set(sagaId, written);
    if (this.#sagas.size > REMEMBERED_SAGAS) {
      const oldest = this.#sagas.keys().next().value;
      if (oldest !== undefined) this.#sagas.delete(oldest);
    }
  }

  forget(sagaId: string): void {
    this.#sagas.delete(sagaId);
  }

  clear(): void {
    this.#sagas.clear();
  }
}
