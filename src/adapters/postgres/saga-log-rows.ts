import type { SagaRow } from "../../log/stored-rows.js";

export {
  type EntryRow,
  entriesOf,
  HEADER_COLUMNS,
  headerValues,
  listedFromColumns,
  numberEntries,
  recordOf,
  type SagaRow,
} from "../../log/stored-rows.js";

// `pg` returns bigint columns as strings, so every numeric column is converted on the way in.
const NUMERIC = [
  "definition_version",
  "fencing_token",
  "lease_expires_at",
  "recovery_attempts",
  "next_recovery_at",
  "created_at",
  "updated_at",
  "schema_version",
] as const;

/** A sagas row as `pg` returns it, with its numeric columns converted. */
export function sagaRowOf(raw: Record<string, unknown>): SagaRow {
  const row: Record<string, unknown> = { ...raw };
  for (const column of NUMERIC) {
    const value = row[column];
    if (value !== null && value !== undefined) row[column] = Number(value);
  }
  return row as unknown as SagaRow;
}
