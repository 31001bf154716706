import type { Saga } from "../../../src/core/saga.js";
import type { SagaLog } from "../../../src/log/saga-log.js";
import { type NewStepEntry, SagaStatus, SCHEMA_VERSION } from "../../../src/model/records.js";

/**
 * Leaves a saga in the log the way a runner that died would have: created at `at`, its lease lapsed,
 * `entries` written under fencing token 1, and `status` as the runner last wrote it.
 */
export async function leaveCrashed(
  log: SagaLog,
  // biome-ignore lint/suspicious/noExplicitAny: any saga.
  saga: Saga<any, any>,
  sagaId: string,
  input: unknown,
  entries: readonly NewStepEntry[],
  options: { status?: SagaStatus; at?: number; leaseLive?: boolean } = {},
): Promise<void> {
  const at = options.at ?? Date.now() - 120_000;
  await log.create({
    schemaVersion: SCHEMA_VERSION,
    sagaId,
    definition: saga.definition as never,
    input,
    status: SagaStatus.Running,
    attention: null,
    fencingToken: 1,
    leaseOwner: "runner-that-died",
    leaseExpiresAt: options.leaseLive ? Date.now() + 600_000 : at + 1_000,
    recoveryAttempts: 0,
    nextRecoveryAt: 0,
    createdAt: at,
    updatedAt: at,
  });
  await log.write(sagaId, 1, {
    entries,
    ...(options.status === undefined || options.status === SagaStatus.Running
      ? {}
      : { status: options.status }),
    now: at + 1,
  });
}

/** A write-ahead intent, as the runner logs it before execute. */
export function intent(step: string, attempt = 1, at = Date.now() - 119_000): NewStepEntry {
  return { step, type: "intent", attempt, at };
}

/** A committed entry with the step's raw output. */
export function committedEntry(
  step: string,
  output: unknown,
  at = Date.now() - 118_000,
): NewStepEntry {
  return { step, type: "committed", attempt: 1, at, output, via: "execute" };
}
