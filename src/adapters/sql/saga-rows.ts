import { validateLogRecord } from "../../log/log-rules.js";
import { SagaLogError } from "../../log/saga-log.js";
import { AttentionReason } from "../../model/attention-reason.js";
import {
  type SagaRecord,
  SagaStatus,
  SCHEMA_VERSION,
  type StepEntry,
  sagaRecordSchema,
  stepEntrySchema,
} from "../../model/records.js";

/** A row of the sagas table. */
export interface SagaRow {
  readonly saga_id: string;
  readonly name: string;
  readonly definition_version: number;
  readonly status: string;
  readonly fencing_token: number;
  readonly lease_owner: string | null;
  readonly lease_expires_at: number | null;
  readonly recovery_attempts: number;
  readonly next_recovery_at: number;
  readonly created_at: number;
  readonly updated_at: number;
  readonly schema_version: number;
  readonly record: string;
  readonly problem_field: string | null;
  readonly problem_message: string | null;
}

/** A row of the entries table. */
export interface EntryRow {
  readonly seq: number;
  readonly body: string;
}

/** The columns written for a whole header, in {@link HEADER_COLUMNS} order. */
export function headerValues(record: SagaRecord): unknown[] {
  return [
    record.sagaId,
    record.definition.name,
    record.definition.version,
    record.status,
    record.fencingToken,
    record.leaseOwner,
    record.leaseExpiresAt,
    record.recoveryAttempts,
    record.nextRecoveryAt,
    record.createdAt,
    record.updatedAt,
    record.schemaVersion,
    JSON.stringify(record),
  ];
}

/** The columns {@link headerValues} fills. */
export const HEADER_COLUMNS = [
  "saga_id",
  "name",
  "definition_version",
  "status",
  "fencing_token",
  "lease_owner",
  "lease_expires_at",
  "recovery_attempts",
  "next_recovery_at",
  "created_at",
  "updated_at",
  "schema_version",
  "record",
] as const;

function corrupt(sagaId: string, field: string, detail: string, cause?: unknown): SagaLogError {
  return new SagaLogError(
    "corrupt",
    sagaId,
    `A log record of saga "${sagaId}" is invalid at \`${field}\`: ${detail}.`,
    cause === undefined ? { field } : { field, cause },
  );
}

/**
 * The validated header of a row: its JSON body with the authoritative columns laid over it. Throws a
 * `corrupt` {@link SagaLogError} naming the field for an unknown schema version, a body that is not
 * a JSON object, or any field that fails the record schema.
 */
export function recordOf(row: SagaRow): SagaRecord {
  const sagaId = row.saga_id;
  if (row.schema_version !== SCHEMA_VERSION) {
    throw corrupt(
      sagaId,
      "schemaVersion",
      `schema version ${row.schema_version} is not one this version of lockstep reads (it reads ${SCHEMA_VERSION})`,
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(row.record);
  } catch (error) {
    throw corrupt(sagaId, "(record)", "the stored body is not valid JSON", error);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw corrupt(sagaId, "(record)", "the stored body is not a JSON object");
  }
  const record = validateLogRecord(
    sagaRecordSchema,
    {
      ...body,
      status: row.status,
      fencingToken: row.fencing_token,
      leaseOwner: row.lease_owner,
      leaseExpiresAt: row.lease_expires_at,
      updatedAt: row.updated_at,
    },
    sagaId,
  );
  if (record.sagaId !== sagaId) {
    throw corrupt(sagaId, "sagaId", `the body belongs to saga "${record.sagaId}"`);
  }
  // Quarantine writes only the columns: what it found wrong is the saga's attention.
  if (row.problem_message === null || record.attention !== null) return record;
  return { ...record, attention: quarantineAttention(row) };
}

function quarantineAttention(row: SagaRow): NonNullable<SagaRecord["attention"]> {
  return {
    reason: AttentionReason.CorruptRecord,
    step: "",
    message: `Quarantined at \`${row.problem_field ?? "(record)"}\`: ${row.problem_message}`,
  };
}

/**
 * The validated entries of a saga, in order. Throws `corrupt` naming the entry (`entries.<seq>…`)
 * when one fails its schema, belongs elsewhere, or when the sequence has a gap.
 */
export function entriesOf(sagaId: string, rows: readonly EntryRow[]): StepEntry[] {
  return rows.map((row, index) => {
    const at = `entries.${row.seq}`;
    if (row.seq !== index + 1) {
      throw corrupt(
        sagaId,
        `entries.${index + 1}`,
        `the entry is missing (the next stored is ${row.seq})`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(row.body);
    } catch (error) {
      throw corrupt(sagaId, at, "the stored body is not valid JSON", error);
    }
    let entry: StepEntry;
    try {
      entry = validateLogRecord(stepEntrySchema, body, sagaId);
    } catch (error) {
      if (!SagaLogError.is(error) || error.reason !== "corrupt") throw error;
      throw corrupt(sagaId, `${at}.${error.field ?? "(entry)"}`, error.message, error.cause);
    }
    if (entry.seq !== row.seq) throw corrupt(sagaId, `${at}.seq`, `the body says ${entry.seq}`);
    if (entry.sagaId !== sagaId) {
      throw corrupt(sagaId, `${at}.sagaId`, `the body belongs to saga "${entry.sagaId}"`);
    }
    return entry;
  });
}

const STATUSES = Object.values(SagaStatus) as string[];

/**
 * How `list` shows a saga whose body cannot be read: its header rebuilt from the indexed columns,
 * with no steps, `input: null`, and `attention` of reason `corrupt_record` carrying what is wrong.
 * `load` on it throws the `corrupt` error itself.
 */
export function listedFromColumns(row: SagaRow, problem: string): SagaRecord {
  return {
    schemaVersion: SCHEMA_VERSION,
    sagaId: row.saga_id,
    definition: { name: row.name, version: row.definition_version, steps: [] },
    input: null,
    status: STATUSES.includes(row.status) ? (row.status as SagaStatus) : SagaStatus.Quarantined,
    attention:
      row.problem_message === null
        ? { reason: AttentionReason.CorruptRecord, step: "", message: problem }
        : quarantineAttention(row),
    fencingToken: row.fencing_token,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    recoveryAttempts: row.recovery_attempts,
    nextRecoveryAt: row.next_recovery_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/**
 * How `list` shows a row: its validated header, or, when its body cannot be read, the header rebuilt
 * from its columns (see {@link listedFromColumns}), so one bad row never hides the others.
 */
export function listedRecord(row: SagaRow): SagaRecord {
  try {
    return recordOf(row);
  } catch (error) {
    if (!SagaLogError.is(error) || error.reason !== "corrupt") throw error;
    return listedFromColumns(row, error.message);
  }
}

// Drivers that return bigint columns as strings (pg) need every numeric column converted: every
// header column but these.
const TEXT_COLUMNS: readonly string[] = ["saga_id", "name", "status", "lease_owner", "record"];
const NUMERIC = HEADER_COLUMNS.filter((column) => !TEXT_COLUMNS.includes(column));

/** A sagas row from a driver that returns bigint columns as strings, with its numbers converted. */
export function sagaRowOf(raw: Record<string, unknown>): SagaRow {
  const row: Record<string, unknown> = { ...raw };
  for (const column of NUMERIC) {
    const value = row[column];
    if (value !== null && value !== undefined) row[column] = Number(value);
  }
  return row as unknown as SagaRow;
}
