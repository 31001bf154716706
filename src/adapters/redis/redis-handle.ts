import { StoreError } from "../../core/error-kinds.js";
import { describeValue } from "../../core/validate.js";
import { ErrorKind } from "../../model/error-kind.js";
import { classifyRedisError, classifyReply } from "./classify-redis-error.js";
import { type DedicatedConnection, messageOf } from "./dedicated-connection.js";
import { fenceArgs, fencedError, type RedisFence } from "./fence.js";
import { evalScript } from "./lua-script.js";
import { keyMessage, misuse } from "./misuse.js";
import { NEVER_ABORTED } from "./race-signal.js";
import { decodeDoc, READ_SCRIPT, type RedisDoc } from "./read-script.js";
import type { RedisCallOptions, RedisJsonDoc, RedisUpdateOptions } from "./redis-call-options.js";
import { RedisPartialBatchError } from "./redis-partial-batch-error.js";
import type { RedisWrite, RedisWriteResult } from "./redis-write.js";
import { writeProblem } from "./redis-write.js";
import type { WatchPool } from "./watch-pool.js";
import { watchUpdate } from "./watch-update.js";
import { decodeWriteReply, encodeWrites, WRITE_SCRIPT, type WriteOutcome } from "./write-script.js";

/**
 * How step code reads and writes a Redis store. Every write goes through lockstep's own connections,
 * never the client you passed in: a script or transaction can never interleave with, or inherit
 * `WATCH` state from, your application's commands.
 *
 * The handle a step's execute, probe or compensate receives is fenced: each of its calls carries
 * the call's fencing token, records it as the saga's highest, and — for a write — is refused as
 * `not_committed` when a higher token of the saga was seen (a newer attempt has run since). The
 * store's root handle carries none and is never refused by a fence.
 */
export interface RedisHandle {
  /**
   * Reads a document fresh from Redis (type and content in one atomic step), or `undefined` when the
   * key does not exist. Throws a {@link StoreError} when the key holds something lockstep did not
   * write.
   *
   * @example
   * ```ts
   * const doc = await handle.get("bounty:1", { signal });
   * ```
   */
  get(key: string, options?: RedisCallOptions): Promise<RedisDoc | undefined>;
  /**
   * Applies one write atomically. A guard that does not hold (version, `"absent"`, `min`) affects
   * nothing and resolves with `affected: 0`; a write Redis refuses (the key holds another type, a
   * field is not an integer) rejects with a `not_committed` {@link StoreError}.
   *
   * @example
   * ```ts
   * const { affected } = await handle.apply(redisSet("bounty:1", next, { ifVersion: 3 }));
   * ```
   */
  apply(write: RedisWrite, options?: RedisCallOptions): Promise<RedisWriteResult>;
  /**
   * Applies writes all-or-nothing in one Lua script and resolves with their results by position.
   * Every guard and type is checked, in order, against the state the earlier writes leave, before
   * anything is written. A guard that does not hold rejects with a `conflict` {@link StoreError}
   * whose `index` names the write; a refused write rejects as `not_committed` with its `index`; in
   * both cases nothing was written. If Redis itself fails mid-write (which it never undoes), the call
   * rejects with a {@link RedisPartialBatchError} saying which writes landed.
   *
   * @example
   * ```ts
   * await handle.batch([redisHincrby("acct:a", "balance", -5, { min: 0 }), redisHincrby("acct:b", "balance", 5)]);
   * ```
   */
  batch(
    writes: readonly RedisWrite[],
    options?: RedisCallOptions,
  ): Promise<readonly RedisWriteResult[]>;
  /**
   * Read-modify-write of a JSON document with logic that runs in JavaScript: `WATCH`es the key on a
   * dedicated connection, reads it, calls `mutate` with the current document (or `undefined`), and
   * writes what `mutate` returns in `MULTI`/`EXEC` — which Redis refuses if anyone wrote the key
   * since the read, in which case the whole round is retried. Return `undefined` from `mutate` to
   * write nothing (`affected: 0`). A throw from `mutate` rejects as `not_committed`.
   *
   * @example
   * ```ts
   * await handle.update("bounty:1", (doc) =>
   *   doc && (doc.value as Bounty).status === "open" ? { ...(doc.value as Bounty), status: "claimed" } : undefined,
   * );
   * ```
   */
  update(
    key: string,
    mutate: (current: RedisJsonDoc | undefined) => unknown,
    options?: RedisUpdateOptions,
  ): Promise<RedisWriteResult>;
}

/** Where a handle sends its commands. */
export interface RedisConnections {
  readonly writer: DedicatedConnection;
  readonly watchers: WatchPool;
}

/**
 * Builds the handle over lockstep's own connections: the root handle, or, with `fence`, the handle
 * of one step call, whose every script records the call's fencing token and whose writes are
 * refused once a higher token of the saga was seen.
 */
export function createRedisHandle(connections: RedisConnections, fence?: RedisFence): RedisHandle {
  const { writer, watchers } = connections;
  return Object.freeze({
    get: async (key: string, options?: RedisCallOptions) => {
      if (typeof key !== "string" || key.length === 0) throw misuse(keyMessage(key));
      const reply = await writer.send(
        options?.signal ?? NEVER_ABORTED,
        `Redis read of "${key}"`,
        (r) =>
          fence === undefined
            ? evalScript(r, READ_SCRIPT, [key], [])
            : evalScript(r, READ_SCRIPT, [key, fence.key], fenceArgs(fence)),
      );
      return decodeDoc(key, reply);
    },
    apply: async (write: RedisWrite, options?: RedisCallOptions): Promise<RedisWriteResult> => {
      const outcome = await runWrites(writer, [write], options?.signal ?? NEVER_ABORTED, fence);
      switch (outcome.status) {
        case "ok":
          return outcome.results[0] as RedisWriteResult;
        case "guard":
          return { affected: 0, version: outcome.version };
        case "fenced":
          throw fencedError(
            `the ${write.op} of "${write.key}"`,
            fence as RedisFence,
            outcome.highest,
          );
        default:
          throw new StoreError(
            ErrorKind.NotCommitted,
            `Redis refused the ${write.op} of "${write.key}": ${outcome.message}. Nothing was written.`,
          );
      }
    },
    batch: async (writes: readonly RedisWrite[], options?: RedisCallOptions) => {
      if (!Array.isArray(writes)) {
        throw misuse(
          `Expected \`writes\` to be an array of Redis writes, got ${describeValue(writes)}.`,
        );
      }
      if (writes.length === 0) return [];
      const outcome = await runWrites(writer, writes, options?.signal ?? NEVER_ABORTED, fence);
      if (outcome.status === "fenced") {
        throw fencedError(
          `a batch of ${writes.length} write(s)`,
          fence as RedisFence,
          outcome.highest,
        );
      }
      return batchResults(writes, outcome);
    },
    update: (
      key: string,
      mutate: (current: RedisJsonDoc | undefined) => unknown,
      options?: RedisUpdateOptions,
    ) => watchUpdate(watchers, key, mutate, options, fence),
  });
}

function batchResults(
  writes: readonly RedisWrite[],
  outcome: Exclude<WriteOutcome, { status: "fenced" }>,
): readonly RedisWriteResult[] {
  if (outcome.status === "ok") return outcome.results;
  const write = writes[outcome.index] as RedisWrite;
  const what = `batch write #${outcome.index} (${write.op} "${write.key}")`;
  switch (outcome.status) {
    case "guard":
      throw new StoreError(
        ErrorKind.Conflict,
        `The guard of ${what} did not hold (${outcome.reason === "min" ? "the field would fall below its minimum" : `the document is at version ${outcome.version ?? "absent"}`}); nothing of the batch was applied.`,
        { index: outcome.index },
      );
    case "refused":
      throw new StoreError(
        ErrorKind.NotCommitted,
        `Redis refused ${what}: ${outcome.message}. Nothing of the batch was applied.`,
        { index: outcome.index },
      );
    case "partial":
      if (outcome.index === 0) {
        throw new StoreError(
          ErrorKind.NotCommitted,
          `Redis failed ${what} (${outcome.message}) before writing anything; nothing of the batch was applied.`,
          { index: 0 },
        );
      }
      throw new RedisPartialBatchError(outcome.index, outcome.message);
  }
}

/**
 * Reply errors from lockstep's write script come from its checking phase or from Redis refusing to
 * run it: its writing phase reports failures as values. So a script error proves nothing was written.
 */
function classifyOwnScript(error: unknown): ErrorKind | undefined {
  const { name, message } = error as { name?: unknown; message?: unknown };
  if (name === "ReplyError" && typeof message === "string") {
    const kind = classifyReply(message);
    return kind === ErrorKind.Unknown ? ErrorKind.NotCommitted : kind;
  }
  return classifyRedisError(error);
}

async function runWrites(
  writer: DedicatedConnection,
  writes: readonly RedisWrite[],
  signal: AbortSignal,
  fence: RedisFence | undefined,
): Promise<WriteOutcome> {
  writes.forEach((write, index) => {
    const problem = writeProblem(write);
    if (problem !== undefined) throw misuse(problem, writes.length > 1 ? index : undefined);
  });
  const { keys, args } = encodeWrites(writes, fence);
  const first = writes[0] as RedisWrite;
  const what =
    writes.length === 1
      ? `Redis ${first.op} of "${first.key}"`
      : `Redis batch of ${writes.length} writes`;
  const reply = await writer.send(
    signal,
    what,
    (redis) => evalScript(redis, WRITE_SCRIPT, keys, args),
    classifyOwnScript,
  );
  try {
    return decodeWriteReply(reply, writes.length);
  } catch (error) {
    throw new StoreError(ErrorKind.Unknown, `${what} ran, but ${messageOf(error)}`, {
      cause: error,
    });
  }
}
