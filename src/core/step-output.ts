import { EntryType, type StepEntry } from "../model/records.js";
import { zodMessage } from "./attempt-outcome.js";
import { messageOf } from "./message-of.js";
import type { StepDefinition } from "./step.js";

/** What {@link checkOutput} found: the parsed output, or what is wrong with it. */
export type OutputCheck =
  | { readonly ok: true; readonly output: unknown }
  | {
      readonly ok: false;
      /** What is wrong, as the end of a sentence that starts "The output of step X". */
      readonly message: string;
    };

/**
 * Checks an output a step returned (or its probe found) before anything records it as committed:
 * it must pass the step's schema, and the log, which keeps it as JSON, must be able to store it. A
 * value JSON cannot hold (a BigInt, a circular reference) would make the write of the commit fail
 * after the step's effect landed, and one JSON drops without a word (a function, `NaN`, a `Map`'s
 * entries) would hand a recovered saga another output than the live one had; both are refused,
 * naming the path. A value with its own `toJSON` (a `Date`) is stored as that returns, as JSON
 * does. This is the one check of step outputs: execute's, the probe's and a co-committed group's.
 */
export function checkOutput(step: StepDefinition, raw: unknown): OutputCheck {
  const parsed = step.output.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, message: `failed its schema (${zodMessage(parsed.error)})` };
  }
  const lost = jsonLoss(raw);
  if (lost !== undefined)
    return { ok: false, message: `cannot be stored in the saga log (${lost})` };
  return { ok: true, output: parsed.data };
}

/**
 * The first part of `value` that JSON cannot keep as it is, as "`path`: what", walking it the way
 * `JSON.stringify` does (`toJSON` first, then own enumerable keys); `undefined` when JSON keeps it
 * all. An `undefined` is no loss: JSON leaves out a field that is absent either way. Paths start at
 * `root`.
 */
export function jsonLoss(value: unknown, root = "output"): string | undefined {
  // The path is kept as a stack of keys and spelled out only for a loss: most outputs have none.
  const path = [root];
  try {
    const what = lossIn(value, "", path, []);
    return what === undefined
      ? undefined
      : `\`${path.join(".")}\`: ${what} cannot be stored as JSON`;
  } catch (error) {
    return `\`${root}\`: ${messageOf(error)}`;
  }
}

/**
 * What JSON cannot keep of `current`, found under `key` ("" at the root), or `undefined`; on a loss,
 * `path` ends with the keys that lead to it. `ancestors` are the objects being walked, to find a
 * circular reference.
 */
function lossIn(
  current: unknown,
  key: string,
  path: string[],
  ancestors: object[],
): string | undefined {
  let value = current;
  const toJSON = (value as { toJSON?: unknown } | null | undefined)?.toJSON;
  if ((typeof value === "object" || typeof value === "bigint") && typeof toJSON === "function") {
    value = toJSON.call(value, key);
  }
  switch (typeof value) {
    case "bigint":
      return "a BigInt";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    case "number":
      return Number.isFinite(value) ? undefined : String(value);
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return undefined;
  if (value instanceof Map || value instanceof Set) {
    return `a ${value instanceof Map ? "Map" : "Set"} (JSON keeps none of its entries)`;
  }
  if (ancestors.includes(value)) return "a circular reference";
  ancestors.push(value);
  const keys = Array.isArray(value) ? value.map((_, i) => String(i)) : Object.keys(value);
  for (const k of keys) {
    path.push(k);
    const found = lossIn((value as Record<string, unknown>)[k], k, path, ancestors);
    if (found !== undefined) return found;
    path.pop();
  }
  ancestors.pop();
  return undefined;
}

/** Where a logged output fails its step's schema: the entry's field and what is wrong. */
export interface InvalidLoggedOutput {
  /** The dotted path of the bad field, `entries.<seq>.output`, as a corrupt log record names it. */
  readonly field: string;
  /** What is wrong, as a sentence. */
  readonly message: string;
}

/**
 * The first committed entry whose logged output fails its step's schema, or `undefined`. A runner
 * that drove such a saga would hand the steps after it an output of the wrong shape, or probe again a
 * step the log says committed; recovery and resubmission quarantine the saga instead, naming the
 * entry, so a person sees what the log holds.
 */
export function invalidLoggedOutput(
  steps: readonly StepDefinition[],
  entries: readonly StepEntry[],
): InvalidLoggedOutput | undefined {
  const byName = new Map(steps.map((s) => [s.name, s]));
  for (const entry of entries) {
    if (entry.type !== EntryType.Committed) continue;
    const step = byName.get(entry.step);
    if (step === undefined) continue;
    const parsed = step.output.safeParse(entry.output);
    if (parsed.success) continue;
    const field = `entries.${entry.seq}.output`;
    return {
      field,
      message: `The output logged for step "${entry.step}" at \`${field}\` fails the step's schema (${zodMessage(parsed.error)}).`,
    };
  }
  return undefined;
}
