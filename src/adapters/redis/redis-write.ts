import { describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";

/**
 * The hash field where lockstep keeps the version of a hash document. Writes that name it as one of
 * their own fields are refused.
 */
export const REDIS_VERSION_FIELD = "__lockstep_version";

/** How many fields one `hset` may carry; Lua unpacks them onto its stack. */
const MAX_FIELDS = 1000;

/**
 * A prepared write to a Redis store: plain data, applied by a Lua script that checks every guard
 * and type before writing anything.
 *
 * Every document carries a version that each applied write increments:
 * - `set` writes a JSON document, stored as a string `{"v":<version>,"d":<value>}`;
 * - `hset` writes fields of a hash document, whose version lives in {@link REDIS_VERSION_FIELD};
 * - `hincrby` adds `by` to an integer field of a hash document, refused below `min`;
 * - `del` deletes either kind.
 *
 * A new document starts at a random version in [1, 2^52], drawn anew each time its key is created,
 * not at 1: a version is never given to a key twice — not after a delete, not after Redis lost the
 * key in a restart — so a guard written against a document never matches the one created after it.
 *
 * `ifVersion` makes a write guarded: it applies only when the document is at that version, or, with
 * `"absent"`, only when it does not exist. A guard that does not hold affects nothing.
 *
 * @example
 * ```ts
 * const debit: RedisWrite = { op: "hincrby", key: "acct:a", field: "balance", by: -5, min: 0 };
 * ```
 */
export type RedisWrite =
  | {
      readonly op: "set";
      readonly key: string;
      /** Any JSON-encodable value. */
      readonly value: unknown;
      /** Applies only at this version, or only if absent. */
      readonly ifVersion?: number | "absent";
    }
  | {
      readonly op: "del";
      readonly key: string;
      /** Applies only at this version. */
      readonly ifVersion?: number;
    }
  | {
      readonly op: "hset";
      readonly key: string;
      /** Field values; numbers are stored as their decimal text. */
      readonly fields: Readonly<Record<string, string | number>>;
      /** Applies only at this version, or only if absent. */
      readonly ifVersion?: number | "absent";
    }
  | {
      readonly op: "hincrby";
      readonly key: string;
      readonly field: string;
      /** A safe integer to add (negative to subtract). */
      readonly by: number;
      /** The write affects nothing when the field would end below this safe integer. */
      readonly min?: number;
      /** Applies only at this version. */
      readonly ifVersion?: number;
    };

/** What one Redis write did. */
export interface RedisWriteResult {
  /** 1 when the write applied; 0 when its guard (version or `min`) did not hold, or a `del` found nothing. */
  readonly affected: 0 | 1;
  /** The document's version after the write (or, when nothing applied, now), `null` when it does not exist. */
  readonly version: number | null;
  /** For an applied `hincrby`: the field's new value. */
  readonly value?: number;
}

/** Options of the write builders. */
export interface RedisGuardOptions<Guard> {
  /**
   * Applies the write only when the document is at this version (or absent, for `"absent"`).
   * @default unguarded
   */
  readonly ifVersion?: Guard;
}

/**
 * Builds a `set` of a JSON document. Throws a {@link LockstepDefinitionError} when the key is empty
 * or the value cannot be encoded as JSON.
 *
 * @example
 * ```ts
 * redisSet("bounty:1", { status: "open" }, { ifVersion: "absent" }); // create only
 * ```
 */
export function redisSet(
  key: string,
  value: unknown,
  options: RedisGuardOptions<number | "absent"> = {},
): RedisWrite {
  const write: RedisWrite =
    options.ifVersion === undefined
      ? { op: "set", key, value }
      : { op: "set", key, value, ifVersion: options.ifVersion };
  return checked(write);
}

/**
 * Builds a `del` of a document of either kind.
 *
 * @example
 * ```ts
 * redisDel("claim:7", { ifVersion: 2 }); // only if nobody wrote it since version 2
 * ```
 */
export function redisDel(key: string, options: RedisGuardOptions<number> = {}): RedisWrite {
  return checked(
    options.ifVersion === undefined
      ? { op: "del", key }
      : { op: "del", key, ifVersion: options.ifVersion },
  );
}

/**
 * Builds an `hset` of some fields of a hash document (created if absent).
 *
 * @example
 * ```ts
 * redisHset("acct:a", { owner: "ann", balance: 10 }, { ifVersion: "absent" });
 * ```
 */
export function redisHset(
  key: string,
  fields: Readonly<Record<string, string | number>>,
  options: RedisGuardOptions<number | "absent"> = {},
): RedisWrite {
  return checked(
    options.ifVersion === undefined
      ? { op: "hset", key, fields }
      : { op: "hset", key, fields, ifVersion: options.ifVersion },
  );
}

/** Options of {@link redisHincrby}. */
export interface RedisIncrementOptions extends RedisGuardOptions<number> {
  /**
   * The write affects nothing when the field would end below this value (e.g. `0` for a balance).
   * @default no lower bound
   */
  readonly min?: number;
}

/**
 * Builds an `hincrby`: adds `by` to an integer field of a hash document (a missing field counts as
 * 0), affecting nothing when the result would fall below `min`.
 *
 * @example
 * ```ts
 * redisHincrby("acct:a", "balance", -5, { min: 0 }); // never overdraws
 * ```
 */
export function redisHincrby(
  key: string,
  field: string,
  by: number,
  options: RedisIncrementOptions = {},
): RedisWrite {
  return checked({
    op: "hincrby",
    key,
    field,
    by,
    ...(options.min === undefined ? {} : { min: options.min }),
    ...(options.ifVersion === undefined ? {} : { ifVersion: options.ifVersion }),
  });
}

function checked(write: RedisWrite): RedisWrite {
  const problem = writeProblem(write);
  if (problem !== undefined) throw new LockstepDefinitionError(problem);
  return write;
}

/**
 * What is wrong with a write, as a full sentence, or `undefined` when it is well formed. Writes are
 * plain data, so the store checks them again before sending: a hand-built write may skip the builders.
 */
export function writeProblem(write: unknown): string | undefined {
  if (typeof write !== "object" || write === null) {
    return `Expected a Redis write object, got ${describeValue(write)}.`;
  }
  const w = write as Record<string, unknown>;
  const op = w.op;
  if (op !== "set" && op !== "del" && op !== "hset" && op !== "hincrby") {
    return `Expected a Redis write \`op\` of "set", "del", "hset" or "hincrby", got ${describeValue(op)}.`;
  }
  if (typeof w.key !== "string" || w.key.length === 0) {
    return `Expected the \`key\` of a Redis ${op} to be a non-empty string, got ${describeValue(w.key)}.`;
  }
  const guard = w.ifVersion;
  const absentAllowed = op === "set" || op === "hset";
  if (
    guard !== undefined &&
    !(absentAllowed && guard === "absent") &&
    !(Number.isSafeInteger(guard) && (guard as number) >= 1)
  ) {
    return `Expected \`ifVersion\` of the Redis ${op} of "${w.key}" to be an integer >= 1${absentAllowed ? ' or "absent"' : ""}, got ${describeValue(guard)}.`;
  }
  switch (op) {
    case "set":
      return jsonProblem(w.key, w.value);
    case "hset":
      return fieldsProblem(w.key, w.fields);
    case "hincrby":
      return incrementProblem(w);
    default:
      return undefined;
  }
}

function jsonProblem(key: string, value: unknown): string | undefined {
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(value);
  } catch (error) {
    return `The value of the Redis set of "${key}" cannot be encoded as JSON: ${error instanceof Error ? error.message : String(error)}.`;
  }
  return encoded === undefined
    ? `Expected the value of the Redis set of "${key}" to be JSON-encodable, got ${describeValue(value)}.`
    : undefined;
}

function fieldsProblem(key: string, fields: unknown): string | undefined {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    return `Expected the \`fields\` of the Redis hset of "${key}" to be an object, got ${describeValue(fields)}.`;
  }
  const entries = Object.entries(fields);
  if (entries.length === 0 || entries.length > MAX_FIELDS) {
    return `Expected the Redis hset of "${key}" to write between 1 and ${MAX_FIELDS} fields, got ${entries.length}.`;
  }
  for (const [name, value] of entries) {
    if (name === REDIS_VERSION_FIELD || name.length === 0) {
      return `The Redis hset of "${key}" may not write the field ${describeValue(name)}: it is empty or reserved for lockstep's version.`;
    }
    if (typeof value !== "string" && !(typeof value === "number" && Number.isFinite(value))) {
      return `Expected field "${name}" of the Redis hset of "${key}" to be a string or a finite number, got ${describeValue(value)}.`;
    }
  }
  return undefined;
}

function incrementProblem(w: Record<string, unknown>): string | undefined {
  const key = w.key as string;
  if (typeof w.field !== "string" || w.field.length === 0 || w.field === REDIS_VERSION_FIELD) {
    return `Expected the \`field\` of the Redis hincrby of "${key}" to be a non-empty string other than "${REDIS_VERSION_FIELD}", got ${describeValue(w.field)}.`;
  }
  if (!Number.isSafeInteger(w.by)) {
    return `Expected \`by\` of the Redis hincrby of "${key}" to be a safe integer, got ${describeValue(w.by)}.`;
  }
  if (w.min !== undefined && !Number.isSafeInteger(w.min)) {
    return `Expected \`min\` of the Redis hincrby of "${key}" to be a safe integer, got ${describeValue(w.min)}.`;
  }
  return undefined;
}
