import { StoreError } from "../../core/error-kinds.js";
import { ErrorKind } from "../../model/error-kind.js";
import { FENCE_LUA } from "./fence.js";
import { luaScript } from "./lua-script.js";
import { REDIS_VERSION_FIELD } from "./redis-write.js";

/**
 * A document read from a Redis store, with the version its last write gave it.
 *
 * @example
 * ```ts
 * const doc = await store.handle.get("acct:a");
 * if (doc?.type === "hash") console.log(doc.value.balance, doc.version);
 * ```
 */
export type RedisDoc =
  | { readonly type: "json"; readonly value: unknown; readonly version: number }
  | {
      readonly type: "hash";
      /** The hash's fields, without lockstep's version field. */
      readonly value: Readonly<Record<string, string>>;
      readonly version: number;
    };

/**
 * Reads a key's type and content in one atomic step, so the two cannot disagree. A read through a
 * fenced handle passes the fence key as `KEYS[2]` and the token and its time to live as `ARGV[1]`
 * and `ARGV[2]`: the read records the token (never refused, never lowering the highest seen), so a
 * probe's read refuses, from then on, any write of the saga with a lower token.
 */
export const READ_SCRIPT = luaScript(`${FENCE_LUA}
if KEYS[2] then fence(KEYS[2], tonumber(ARGV[1]), ARGV[2]) end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'string' then return { kind, redis.call('GET', KEYS[1]) } end
if kind == 'hash' then return { kind, redis.call('HGETALL', KEYS[1]) } end
return { kind }
`);

const JSON_DOC = /^\{"v":(\d+),"d":/;

/** Decodes the read script's reply for `key`; `undefined` when the key does not exist. */
export function decodeDoc(key: string, reply: unknown): RedisDoc | undefined {
  if (!Array.isArray(reply) || typeof reply[0] !== "string") {
    throw notADocument(key, "the read returned an unexpected reply");
  }
  const [kind, content] = reply as [string, unknown];
  if (kind === "none") return undefined;
  if (kind === "string" && typeof content === "string" && JSON_DOC.test(content)) {
    const parsed = JSON.parse(content) as { v: number; d: unknown };
    return { type: "json", value: parsed.d, version: parsed.v };
  }
  if (kind === "hash" && Array.isArray(content)) {
    const fields: Record<string, string> = {};
    let version: number | undefined;
    for (let i = 0; i + 1 < content.length; i += 2) {
      const name = String(content[i]);
      const value = String(content[i + 1]);
      if (name === REDIS_VERSION_FIELD) version = /^\d+$/.test(value) ? Number(value) : undefined;
      else fields[name] = value;
    }
    if (version === undefined)
      throw notADocument(key, "it holds a hash without a lockstep version");
    return { type: "hash", value: fields, version };
  }
  throw notADocument(key, `it holds a ${kind} that lockstep did not write`);
}

function notADocument(key: string, why: string): StoreError {
  return new StoreError(ErrorKind.NotCommitted, `Key "${key}" is not a lockstep document: ${why}.`);
}

/** The JSON document text the write script would store, for writes made outside it. */
export function encodeJsonDoc(version: number, value: unknown): string {
  return `{"v":${version},"d":${JSON.stringify(value)}}`;
}
