import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A Lua script with its SHA-1, run by `EVALSHA` and loaded by `EVAL` the first time. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

/** Prepares a script. */
export function luaScript(source: string): LuaScript {
  return Object.freeze({ source, sha: createHash("sha1").update(source).digest("hex") });
}

/**
 * Runs `script` by its SHA-1, sending the source only when Redis answers `NOSCRIPT` (which proves
 * the first attempt ran nothing). Never registers commands on the client.
 */
export async function evalScript(
  redis: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return redis.eval(script.source, keys.length, ...keys, ...args);
  }
}

function isNoScript(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { message?: unknown }).message === "string" &&
    (error as { message: string }).message.startsWith("NOSCRIPT")
  );
}
