import { classifyError, StoreError } from "../../core/error-kinds.js";
import { describeValue, isIntegerAtLeast } from "../../core/validate.js";
import { ErrorKind } from "../../model/error-kind.js";
import { type DedicatedConnection, messageOf } from "./dedicated-connection.js";
import { firstVersion } from "./first-version.js";
import { evalScript } from "./lua-script.js";
import { keyMessage, misuse } from "./misuse.js";
import { NEVER_ABORTED, raceSignal } from "./race-signal.js";
import { decodeDoc, encodeJsonDoc, READ_SCRIPT } from "./read-script.js";
import type { RedisJsonDoc, RedisUpdateOptions } from "./redis-call-options.js";
import type { RedisWriteResult } from "./redis-write.js";
import type { WatchPool } from "./watch-pool.js";

/**
 * Optimistic read-modify-write on a borrowed dedicated connection: WATCH, read, decide, then
 * MULTI/EXEC, retried on fresh state while another writer keeps winning the race.
 */
export async function watchUpdate(
  watchers: WatchPool,
  key: string,
  mutate: (current: RedisJsonDoc | undefined) => unknown,
  options: RedisUpdateOptions = {},
): Promise<RedisWriteResult> {
  if (typeof key !== "string" || key.length === 0) throw misuse(keyMessage(key));
  if (typeof mutate !== "function") {
    throw misuse(`Expected \`mutate\` to be a function, got ${describeValue(mutate)}.`);
  }
  const attempts = options.attempts ?? 3;
  if (!isIntegerAtLeast(attempts, 1)) {
    throw misuse(`Expected \`attempts\` to be an integer >= 1, got ${describeValue(attempts)}.`);
  }
  const signal = options.signal ?? NEVER_ABORTED;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const connection = await watchers.acquire(signal);
    let clean = false;
    try {
      const outcome = await watchRound(connection, key, mutate, signal);
      clean = true;
      if (outcome !== "lost") return outcome;
    } finally {
      watchers.release(connection, clean);
    }
  }
  throw new StoreError(
    ErrorKind.Conflict,
    `The update of "${key}" lost to a concurrent writer on each of its ${attempts} attempt(s); nothing was written.`,
  );
}

/** One WATCH, read, decide, MULTI/EXEC round; `"lost"` when EXEC was refused because the key moved. */
async function watchRound(
  connection: DedicatedConnection,
  key: string,
  mutate: (current: RedisJsonDoc | undefined) => unknown,
  signal: AbortSignal,
): Promise<RedisWriteResult | "lost"> {
  await connection.send(signal, `WATCH of "${key}"`, (r) => r.watch(key));
  const doc = decodeDoc(
    key,
    await connection.send(signal, `Redis read of "${key}"`, (r) =>
      evalScript(r, READ_SCRIPT, [key], []),
    ),
  );
  if (doc?.type === "hash") {
    throw new StoreError(
      ErrorKind.NotCommitted,
      `Key "${key}" holds a hash document; update works on JSON documents. Nothing was written.`,
    );
  }
  let next: unknown;
  try {
    next = await raceSignal(
      Promise.resolve().then(() =>
        mutate(doc === undefined ? undefined : { value: doc.value, version: doc.version }),
      ),
      signal,
      () =>
        new StoreError(
          ErrorKind.NotCommitted,
          `The update of "${key}" was aborted before it wrote anything.`,
        ),
    );
  } catch (error) {
    if (StoreError.is(error)) throw error;
    throw new StoreError(
      classifyError(error) === ErrorKind.Conflict ? ErrorKind.Conflict : ErrorKind.NotCommitted,
      `The update function of "${key}" threw (${messageOf(error)}); nothing was written.`,
      { cause: error },
    );
  }
  if (next === undefined) {
    await connection.send(signal, `UNWATCH of "${key}"`, (r) => r.unwatch());
    return { affected: 0, version: doc?.version ?? null };
  }
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(next);
  } catch {
    encoded = undefined;
  }
  if (encoded === undefined) {
    throw misuse(
      `Expected the update function of "${key}" to return a JSON-encodable value or undefined, got ${describeValue(next)}.`,
    );
  }
  const version = doc === undefined ? firstVersion() : doc.version + 1;
  const reply = await connection.send(signal, `Redis update of "${key}"`, (r) =>
    r.multi().set(key, encodeJsonDoc(version, next)).exec(),
  );
  if (reply === null) return "lost";
  const failure = reply[0]?.[0];
  if (failure) {
    // The transaction held one command, so its failure at EXEC means nothing was written.
    throw new StoreError(
      ErrorKind.NotCommitted,
      `Redis refused the update of "${key}" at EXEC (${messageOf(failure)}); nothing was written.`,
      { cause: failure },
    );
  }
  return { affected: 1, version };
}
