import type { SagaDefinition } from "./definition.js";

type StepDefinition = SagaDefinition["steps"][number];

const STEP_FIELDS = ["name", "kind", "store", "probe", "compensate"] as const;

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function field(where: string, name: string, logged: unknown, given: unknown): string {
  return `${where} field "${name}": logged ${show(logged)}, given ${show(given)}`;
}

function stepDiffs(position: number, logged: StepDefinition, given: StepDefinition): string[] {
  // A step keeps its name as its label while the name matches; a renamed one goes by its position.
  const where = logged.name === given.name ? `step "${logged.name}"` : `step ${position}`;
  return STEP_FIELDS.filter((name) => logged[name] !== given[name]).map((name) =>
    field(where, name, logged[name], given[name]),
  );
}

/**
 * What differs between the definition a saga was logged with and the one a recoverer was given,
 * one clause per difference in step order, joined with `"; "` — e.g. `step "reserve" field "store":
 * logged "postgres:127.0.0.1:5432/app", given "postgres:localhost:5432/app"` — or `undefined` when
 * they have the same shape. A step is named by its name, or by its 1-based position when the names
 * at that position differ; a step only one side has is named with the side that has it.
 *
 * @example `describeDefinitionDiff(record.definition, saga.definition)` is
 * `'step "reserve" field "store": logged "orders-db", given "orders-db-2"'` when only that differs.
 */
export function describeDefinitionDiff(
  logged: SagaDefinition,
  given: SagaDefinition,
): string | undefined {
  const diffs: string[] = [];
  if (logged.name !== given.name) diffs.push(field("saga", "name", logged.name, given.name));
  if (logged.version !== given.version) {
    diffs.push(field("saga", "version", logged.version, given.version));
  }
  const count = Math.max(logged.steps.length, given.steps.length);
  for (let index = 0; index < count; index++) {
    const before = logged.steps[index];
    const after = given.steps[index];
    if (before !== undefined && after !== undefined) {
      diffs.push(...stepDiffs(index + 1, before, after));
    } else if (before !== undefined) {
      diffs.push(
        `step "${before.name}" (step ${index + 1}): logged, absent from the given definition`,
      );
    } else if (after !== undefined) {
      diffs.push(
        `step "${after.name}" (step ${index + 1}): absent from the logged definition, given`,
      );
    }
  }
  return diffs.length === 0 ? undefined : diffs.join("; ");
}

/**
 * The way out of a `definition_mismatch`, as recovery's attention message states it; the steps are
 * in `docs/operations.md`, "When a saga's definition does not match".
 */
export const DEFINITION_MISMATCH_WAY_OUT =
  "deploy a definition with the logged shape (a store's logical `id` rather than one derived from its connection), or register the old version with the recoverer, or leave the saga marked needs_attention and finish it by hand (docs/operations.md, \"When a saga's definition does not match\")";
