import {
  type SagaRecord,
  type SagaSnapshot,
  SCHEMA_VERSION,
  type StepEntry,
  sagaRecordSchema,
  stepEntrySchema,
} from "../../../src/index.js";

/** The markup a hostile saga input or error message carries; it must only ever show as text. */
export const HOSTILE = `<script>alert("x")</script>`;

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);

/**
 * A saga whose history has every shape a drawing must show, written by hand so each count is known:
 * `reserve` commits on its first attempt; `charge`'s response is lost, recovery takes the saga over
 * (token 2) and its probe finds it committed; `notify` is refused once (with a hostile message) and
 * commits on attempt 2; then an operator (token 3) leaves a note. Four attempts, two takeovers.
 */
export function drawnSaga(): SagaSnapshot {
  const record: SagaRecord = sagaRecordSchema.parse({
    schemaVersion: SCHEMA_VERSION,
    sagaId: "01DRAWN",
    definition: {
      name: "order",
      version: 1,
      steps: [
        { name: "reserve", kind: "compensatable", store: "db", probe: true, compensate: true },
        { name: "charge", kind: "pivot", store: "payments", probe: true, compensate: false },
        { name: "notify", kind: "retriable", store: "mail", probe: false, compensate: false },
      ],
    },
    input: { id: "o-1", note: HOSTILE },
    status: "completed",
    attention: null,
    fencingToken: 3,
    leaseOwner: null,
    leaseExpiresAt: null,
    recoveryAttempts: 1,
    nextRecoveryAt: 0,
    createdAt: T0,
    updatedAt: T0 + 1100,
  });
  const rows: Omit<StepEntry, "schemaVersion" | "sagaId" | "seq">[] = [
    { step: "reserve", type: "intent", attempt: 1, token: 1, at: T0 },
    {
      step: "reserve",
      type: "committed",
      attempt: 1,
      token: 1,
      at: T0 + 10,
      via: "execute",
      output: { hold: 1 },
    },
    { step: "charge", type: "intent", attempt: 1, token: 1, at: T0 + 20 },
    {
      step: "charge",
      type: "unknown",
      attempt: 1,
      token: 2,
      at: T0 + 1000,
      error: { kind: "timeout", message: "no answer in 5000ms" },
    },
    {
      step: "charge",
      type: "committed",
      attempt: 1,
      token: 2,
      at: T0 + 1010,
      via: "probe",
      output: { capture: "c-1" },
    },
    { step: "notify", type: "intent", attempt: 1, token: 2, at: T0 + 1020 },
    {
      step: "notify",
      type: "not_committed",
      attempt: 1,
      token: 2,
      at: T0 + 1030,
      error: { kind: "not_committed", message: HOSTILE },
    },
    { step: "notify", type: "intent", attempt: 2, token: 2, at: T0 + 1040 },
    {
      step: "notify",
      type: "committed",
      attempt: 2,
      token: 2,
      at: T0 + 1050,
      via: "execute",
      output: {},
    },
    {
      step: "(operator)",
      type: "operator",
      attempt: 1,
      token: 3,
      at: T0 + 1100,
      operator: { actor: "ops <b>", action: "note", note: HOSTILE },
    },
  ];
  const entries = rows.map((row, i) =>
    stepEntrySchema.parse({
      ...row,
      schemaVersion: SCHEMA_VERSION,
      sagaId: record.sagaId,
      seq: i + 1,
    }),
  );
  return { record, entries };
}
