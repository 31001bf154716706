import type { Redis } from "ioredis";
import type { CallScope } from "../../core/deadline.js";
import { defineStore, type WriteStore } from "../../core/store.js";
import { assertInteger, assertName, describeValue } from "../../core/validate.js";
import { LockstepDefinitionError } from "../../model/definition-error.js";
import { classifyRedisError } from "./classify-redis-error.js";
import { DedicatedConnection } from "./dedicated-connection.js";
import { createRedisHandle, type RedisHandle } from "./redis-handle.js";
import type { RedisWrite, RedisWriteResult } from "./redis-write.js";
import { WatchPool } from "./watch-pool.js";

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /**
   * The store's logical identity in saga logs and reports, a name you choose (`"sessions-redis"`).
   * It is logged in every saga's definition and compared on recovery, so name it: the default
   * changes when Redis moves to another host or port, and recovery then refuses the saga as
   * `definition_mismatch`.
   * @default "redis://<host>:<port>/<db>" from the client's options
   * @example `redisStore(client, { id: "sessions-redis" })`
   */
  readonly id?: string;
  /**
   * How long lockstep waits for Redis to answer one command before failing it as `unknown` (it may
   * still be applied), in milliseconds. Set on lockstep's own connections only.
   * @default 10000
   */
  readonly commandTimeoutMs?: number;
  /**
   * How many dedicated connections {@link RedisHandle.update} may hold at once for `WATCH`; more
   * concurrent updates wait for one to be free.
   * @default 4
   */
  readonly watchConnections?: number;
  /**
   * Where the store keeps, per saga, the highest fencing token a step call has carried: the key
   * `<fenceKeyPrefix><sagaId>`, a string holding the token.
   * @default "lockstep:fence:"
   * @example `redisStore(client, { fenceKeyPrefix: "app1:lockstep:fence:" })`
   */
  readonly fenceKeyPrefix?: string;
  /**
   * How long a saga's fence key lives after the last request that carried its token, in
   * milliseconds: every fenced request renews it, and Redis deletes it once the saga has been
   * quiet that long, so fence keys never pile up. A request of an abandoned attempt arriving later
   * than this is no longer refused; keep it far above any delay a request can see in flight.
   * @default 604800000 (7 days)
   */
  readonly fenceTtlMs?: number;
}

/**
 * A Redis store: atomic batches and guarded writes, no transactions (Redis cannot roll back an
 * interactive transaction, so `runAtomic` uses {@link RedisStore.batch} instead).
 */
export interface RedisStore extends WriteStore<RedisHandle, RedisWrite, RedisWriteResult> {
  /**
   * Applies prepared writes all-or-nothing, results by position; see {@link RedisHandle.batch}.
   *
   * Redis's own `MULTI`/`EXEC` is not all-or-nothing: a command that fails when `EXEC` runs it (e.g.
   * `WRONGTYPE`) fails alone while the others apply. lockstep therefore runs a batch as one Lua
   * script — executed atomically, like `MULTI`/`EXEC` — that checks every write's guard, key type,
   * document format and integer range against the state the writes before it leave, and writes
   * nothing unless all pass. A failure Redis raises while writing despite those checks is reported
   * with its position as a {@link RedisPartialBatchError} (kind `unknown`), never as "nothing applied".
   */
  readonly batch: (
    writes: readonly RedisWrite[],
    scope: CallScope,
  ) => Promise<readonly RedisWriteResult[]>;
  /**
   * Disconnects lockstep's own connections at once; calls still waiting for a reply end as
   * `unknown`, later calls are refused as `not_committed`. The client passed to {@link redisStore}
   * stays open.
   */
  close(): Promise<void>;
}

/**
 * Wraps an ioredis client as a lockstep store declaring `atomicBatch`, `conditionalWrite`,
 * `versionsNeverReused` and a `fence_token` fence: a document's versions start at a random point each time its key is
 * created (see {@link RedisWrite}), so a guard never matches a document deleted, or lost in a
 * restart, and created again.
 *
 * lockstep never sends commands on `client` itself: it duplicates it into connections of its own
 * (one for scripts, a small pool for `WATCH`), configured so the fate of each command is knowable —
 * no offline queue, no automatic resend after a reconnect, no reconnect loop. So:
 * - Redis unreachable before a command is sent: `transient` (nothing was sent);
 * - connection lost mid-command, command timeout, or `signal` aborting after the send: `unknown`;
 * - a guard that does not hold: `affected: 0` (a `conflict` naming the write inside a batch);
 * - `WRONGTYPE`, a non-integer field, a malformed write: `not_committed`.
 *
 * The store fences attempts by token (`fence: { mode: "fence_token" }`): the handle a step call
 * receives runs every script with the call's fencing token, and the script — atomically with the
 * write — keeps the highest token seen for the saga under `<fenceKeyPrefix><sagaId>` and refuses a
 * write with a lower one (`not_committed`, nothing written). Reads through that handle record the
 * token too, so a probe's read makes a late write of the attempt it replaces fail. The root handle
 * (`store.handle`, `runAtomic`, `batch`) serves no step call: its writes carry no token and are
 * never refused by a fence. A saga's fence key expires `fenceTtlMs` after its last fenced request.
 *
 * Keys of one batch must live on one node: pass a standalone or Sentinel client, not a `Cluster`.
 * Call {@link RedisStore.close} when done.
 *
 * @example
 * ```ts
 * const store = redisStore(new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379"));
 * const result = await runAtomic(store, [
 *   { name: "debit", guarded: true, build: () => redisHincrby("acct:a", "balance", -5, { min: 0 }) },
 *   { name: "credit", build: () => redisHincrby("acct:b", "balance", 5) },
 * ]);
 * ```
 */
export function redisStore(client: Redis, options: RedisStoreOptions = {}): RedisStore {
  if (typeof client !== "object" || client === null || typeof client.duplicate !== "function") {
    throw new LockstepDefinitionError(
      `Expected \`client\` to be an ioredis Redis client, got ${describeValue(client)}.`,
    );
  }
  if ((client as { isCluster?: unknown }).isCluster === true) {
    throw new LockstepDefinitionError(
      "redisStore does not support an ioredis Cluster: a batch's script must see all its keys on one node. Pass a standalone or Sentinel client.",
    );
  }
  const commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
  assertInteger("commandTimeoutMs", commandTimeoutMs, 1);
  const watchConnections = options.watchConnections ?? 4;
  assertInteger("watchConnections", watchConnections, 1);
  const id = options.id ?? defaultId(client);
  assertName("id", id);
  const fenceKeyPrefix = options.fenceKeyPrefix ?? "lockstep:fence:";
  if (typeof fenceKeyPrefix !== "string" || fenceKeyPrefix.length === 0) {
    throw new LockstepDefinitionError(
      `Expected \`fenceKeyPrefix\` to be a non-empty string, got ${describeValue(fenceKeyPrefix)}.`,
    );
  }
  const fenceTtlMs = options.fenceTtlMs ?? 7 * 24 * 60 * 60 * 1000;
  assertInteger("fenceTtlMs", fenceTtlMs, 1);

  const overrides = { commandTimeout: commandTimeoutMs };
  const writer = new DedicatedConnection(client, overrides);
  const watchers = new WatchPool(client, overrides, watchConnections);
  const connections = { writer, watchers };
  const handle = createRedisHandle(connections);
  const batch = (writes: readonly RedisWrite[], scope: CallScope) =>
    handle.batch(writes, { signal: scope.signal });

  const store = defineStore<RedisHandle, RedisWrite, RedisWriteResult>({
    id,
    handle,
    capabilities: { atomicBatch: true, conditionalWrite: true, versionsNeverReused: true },
    fence: { mode: "fence_token" },
    handleFor: (_scope, call) =>
      createRedisHandle(connections, {
        key: `${fenceKeyPrefix}${call.sagaId}`,
        sagaId: call.sagaId,
        token: call.fencingToken,
        ttlMs: fenceTtlMs,
      }),
    batch,
    apply: (target, write, scope) => target.apply(write, { signal: scope.signal }),
    affected: (result) => result.affected,
    classifyError: classifyRedisError,
  });
  return Object.freeze({
    ...(store as WriteStore<RedisHandle, RedisWrite, RedisWriteResult>),
    batch,
    close: async () => {
      writer.close();
      watchers.close();
    },
  });
}

function defaultId(client: Redis): string {
  const { host, port, db, path } = (client.options ?? {}) as {
    host?: string;
    port?: number;
    db?: number;
    path?: string;
  };
  const where = path ? `unix:${path}` : `${host ?? "localhost"}:${port ?? 6379}`;
  return `redis://${where}/${db ?? 0}`;
}
