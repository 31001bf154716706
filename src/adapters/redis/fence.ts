import { StoreError } from "../../core/error-kinds.js";
import { ErrorKind } from "../../model/error-kind.js";
import { luaScript } from "./lua-script.js";

/**
 * The fence of the step call a handle serves: the saga's fencing token, and the key where Redis
 * keeps the highest token it has seen for that saga.
 */
export interface RedisFence {
  /** `<fenceKeyPrefix><sagaId>`: a string holding the highest token seen, expiring `ttlMs` after its last use. */
  readonly key: string;
  readonly sagaId: string;
  readonly token: number;
  readonly ttlMs: number;
}

/**
 * A Lua function every fenced script starts with: records `token` as the highest seen under `fkey`
 * (and renews the key's expiry) unless a higher one was seen, which it returns; `nil` when the
 * token stands. A key that holds no integer counts as no token seen.
 */
export const FENCE_LUA = `
local function fence(fkey, token, ttl)
  local seen = redis.call('GET', fkey)
  local highest = -1
  if seen then highest = tonumber(seen) or -1 end
  if token < highest then return highest end
  redis.call('SET', fkey, string.format('%d', token), 'PX', ttl)
  return nil
end
`;

/** Records a token as a read does: never refused, and never lowering the highest token seen. */
export const FENCE_SCRIPT = luaScript(`${FENCE_LUA}
return fence(KEYS[1], tonumber(ARGV[1]), ARGV[2]) or false
`);

/** The script arguments that carry a fence: its token and its key's time to live. */
export function fenceArgs(fence: RedisFence): [string, string] {
  return [String(fence.token), String(fence.ttlMs)];
}

/**
 * The error of a request refused by the fence: `not_committed`, since the script wrote nothing.
 * `what` names the request, e.g. `the set of "bounty:1"`.
 */
export function fencedError(what: string, fence: RedisFence, highest: number): StoreError {
  return new StoreError(
    ErrorKind.NotCommitted,
    `Redis refused ${what}: its fencing token ${fence.token} for saga "${fence.sagaId}" is lower than ${highest}, the highest Redis has seen for that saga, so a newer attempt of the saga has run since. Nothing was written.`,
  );
}
