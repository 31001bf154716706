import { firstVersion } from "./first-version.js";
import { luaScript } from "./lua-script.js";
import { REDIS_VERSION_FIELD, type RedisWrite, type RedisWriteResult } from "./redis-write.js";

/**
 * Applies a list of writes in two phases. The first checks every write against the state the writes
 * before it would leave — key type, document format, version guard, `min` bound, integer range — and
 * returns without writing at the first one that fails. Only then does the second phase write, with
 * `pcall`, so that an error Redis raises mid-way (which it never undoes) is reported with its
 * position instead of aborting the script silently half-applied.
 *
 * Replies: `{"ok", affected, version, value, …}` (three per write), `{"guard", index, version,
 * "version"|"min"}`, `{"refused", index, message}` or `{"partial", index, message}`.
 */
const SOURCE = `
local ops = cjson.decode(ARGV[1])
local VERSION_FIELD = ARGV[2]
local MAX_SAFE = 9007199254740991
local state = {}
local plans = {}

local function fmt(n) return string.format('%d', n) end

local function load(key)
  local s = state[key]
  if s then return s end
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'none' then
    s = { kind = 'none', version = 0, fields = {}, cleared = true }
  elseif kind == 'string' then
    local v = string.match(redis.call('GET', key), '^{"v":(%d+),"d":')
    if not v then return nil, 'holds a string that is not a lockstep JSON document' end
    s = { kind = 'json', version = tonumber(v), fields = {}, cleared = false }
  elseif kind == 'hash' then
    local v = redis.call('HGET', key, VERSION_FIELD)
    if not v or not string.match(v, '^%d+$') then return nil, 'holds a hash without a lockstep version' end
    s = { kind = 'hash', version = tonumber(v), fields = {}, cleared = false }
  else
    return nil, 'holds a ' .. kind .. ', not a lockstep document (WRONGTYPE)'
  end
  state[key] = s
  return s
end

local function current(s)
  if s.kind == 'none' then return -1 end
  return s.version
end

-- A new document starts at the random first version its write carries, never at 1: see
-- first-version.ts for why a version must not restart when a key is created again.
local function next_version(s, op)
  if s.kind == 'none' then return op.first end
  return s.version + 1
end

for i, op in ipairs(ops) do
  local key = KEYS[i]
  local s, problem = load(key)
  if not s then return { 'refused', i - 1, 'key "' .. key .. '" ' .. problem } end
  local guard = op.ifVersion
  if guard ~= nil then
    local holds
    if guard == 'absent' then holds = s.kind == 'none' else holds = s.kind ~= 'none' and s.version == guard end
    if not holds then return { 'guard', i - 1, current(s), 'version' } end
  end
  local plan = { affected = 1, value = false }
  if op.op == 'del' then
    if s.kind == 'none' then plan.affected = 0 end
    s.kind = 'none'
    s.version = 0
    s.fields = {}
    s.cleared = true
  elseif op.op == 'set' then
    if s.kind == 'hash' then return { 'refused', i - 1, 'key "' .. key .. '" holds a hash document, not a JSON document' } end
    s.version = next_version(s, op)
    s.kind = 'json'
  else
    if s.kind == 'json' then return { 'refused', i - 1, 'key "' .. key .. '" holds a JSON document, not a hash document' } end
    if op.op == 'hincrby' then
      local text = s.fields[op.field]
      if text == nil and not s.cleared then text = redis.call('HGET', key, op.field) end
      local n = 0
      if text then
        if not string.match(text, '^-?%d+$') then
          return { 'refused', i - 1, 'field "' .. op.field .. '" of key "' .. key .. '" is not an integer' }
        end
        n = tonumber(text)
      end
      local result = n + op.by
      if math.abs(n) > MAX_SAFE or math.abs(result) > MAX_SAFE then
        return { 'refused', i - 1, 'field "' .. op.field .. '" of key "' .. key .. '" would leave the safe integer range' }
      end
      if op.min ~= nil and result < op.min then return { 'guard', i - 1, current(s), 'min' } end
      s.fields[op.field] = fmt(result)
      plan.value = result
    else
      for f, v in pairs(op.fields) do s.fields[f] = v end
    end
    s.version = next_version(s, op)
    s.kind = 'hash'
  end
  plan.version = current(s)
  plans[i] = plan
end

local reply = { 'ok' }
for i, op in ipairs(ops) do
  local key = KEYS[i]
  local plan = plans[i]
  local r = nil
  if op.op == 'set' then
    r = redis.pcall('SET', key, '{"v":' .. fmt(plan.version) .. ',"d":' .. op.value .. '}')
  elseif op.op == 'del' then
    if plan.affected == 1 then r = redis.pcall('DEL', key) end
  elseif op.op == 'hset' then
    local args = {}
    for f, v in pairs(op.fields) do
      args[#args + 1] = f
      args[#args + 1] = v
    end
    r = redis.pcall('HSET', key, VERSION_FIELD, fmt(plan.version), unpack(args))
  else
    r = redis.pcall('HSET', key, op.field, fmt(plan.value), VERSION_FIELD, fmt(plan.version))
  end
  if type(r) == 'table' and r.err then return { 'partial', i - 1, r.err } end
  reply[#reply + 1] = plan.affected
  reply[#reply + 1] = plan.version
  reply[#reply + 1] = plan.value
end
return reply
`;

/** The write script. */
export const WRITE_SCRIPT = luaScript(SOURCE);

/** What the write script came to. */
export type WriteOutcome =
  | { readonly status: "ok"; readonly results: readonly RedisWriteResult[] }
  | {
      readonly status: "guard";
      readonly index: number;
      readonly version: number | null;
      readonly reason: "version" | "min";
    }
  | { readonly status: "refused" | "partial"; readonly index: number; readonly message: string };

/** The script's keys and arguments for `writes`, which must already be well formed. */
export function encodeWrites(writes: readonly RedisWrite[]): {
  keys: string[];
  args: [string, string];
} {
  const ops = writes.map(encodeOp);
  return { keys: writes.map((w) => w.key), args: [JSON.stringify(ops), REDIS_VERSION_FIELD] };
}

function encodeOp(write: RedisWrite): Record<string, unknown> {
  const guard = write.ifVersion === undefined ? {} : { ifVersion: write.ifVersion };
  // Drawn for every write that may create its document; the script uses it only if it does.
  const first = firstVersion();
  switch (write.op) {
    case "set":
      return { op: "set", value: JSON.stringify(write.value), first, ...guard };
    case "del":
      return { op: "del", ...guard };
    case "hset":
      return {
        op: "hset",
        fields: Object.fromEntries(
          Object.entries(write.fields).map(([name, value]) => [name, String(value)]),
        ),
        first,
        ...guard,
      };
    case "hincrby":
      return {
        op: "hincrby",
        field: write.field,
        by: write.by,
        ...(write.min === undefined ? {} : { min: write.min }),
        first,
        ...guard,
      };
  }
}

/** Reads the script's reply; anything unexpected is reported as a malformed reply. */
export function decodeWriteReply(reply: unknown, count: number): WriteOutcome {
  if (!Array.isArray(reply) || typeof reply[0] !== "string") throw malformed(reply);
  const [status, ...rest] = reply as [string, ...unknown[]];
  if (status === "ok") {
    if (rest.length !== count * 3) throw malformed(reply);
    const results: RedisWriteResult[] = [];
    for (let i = 0; i < count; i++) {
      const affected = rest[i * 3];
      const version = rest[i * 3 + 1];
      const value = rest[i * 3 + 2];
      if ((affected !== 0 && affected !== 1) || typeof version !== "number") throw malformed(reply);
      results.push({
        affected,
        version: version < 0 ? null : version,
        ...(typeof value === "number" ? { value } : {}),
      });
    }
    return { status: "ok", results };
  }
  const index = rest[0];
  if (typeof index !== "number" || index < 0 || index >= count) throw malformed(reply);
  if (status === "guard") {
    const version = rest[1];
    const reason = rest[2];
    if (typeof version !== "number" || (reason !== "version" && reason !== "min")) {
      throw malformed(reply);
    }
    return { status, index, version: version < 0 ? null : version, reason };
  }
  if ((status === "refused" || status === "partial") && typeof rest[1] === "string") {
    return { status, index, message: rest[1] };
  }
  throw malformed(reply);
}

function malformed(reply: unknown): Error {
  let shown: string;
  try {
    shown = JSON.stringify(reply).slice(0, 200);
  } catch {
    shown = String(reply);
  }
  return new Error(`The lockstep write script returned an unexpected reply: ${shown}.`);
}
