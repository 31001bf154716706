import type { ZodType } from "zod";
import type { RedisHandle, RedisWrite } from "../../adapters/redis/index.js";
import { LockstepDefinitionError, type StepStore, StoreError } from "../../index.js";
import { rejected } from "./cas-document.js";
import {
  type Balance,
  type Claim,
  claimSchema,
  type Reservation,
  reservationSchema,
} from "./model.js";
import {
  alreadyCaptured,
  claimInDocument,
  existingReservation,
  heldReservation,
} from "./port-rules.js";
import type { ClaimStore, CreditsService } from "./ports.js";

/** Options of {@link redisClaimStore} and {@link redisCredits}. */
export interface RedisPortOptions {
  /**
   * Prepended to every key the ports write, so several marketplaces (or test runs) can share one
   * Redis database.
   * @default "lockstep:bounty:"
   * @example `redisCredits(store, { keyPrefix: "market-eu:" })`
   */
  readonly keyPrefix?: string;
  /**
   * How many times a movement is decided again when another writer changed its document between the
   * read and the guarded write; the call then fails as `transient`, having written nothing.
   * @default 32
   */
  readonly casAttempts?: number;
}

/**
 * Each write below is plain data, checked again by the store before it is sent; building it here
 * keeps the recipe from loading the Redis adapter (and ioredis) at runtime.
 */
const set = (key: string, value: unknown, ifVersion: number | "absent"): RedisWrite => ({
  op: "set",
  key,
  value,
  ifVersion,
});
const hset = (key: string, fields: Record<string, string | number>): RedisWrite => ({
  op: "hset",
  key,
  fields,
});
const add = (key: string, field: string, by: number, min?: number): RedisWrite =>
  min === undefined ? { op: "hincrby", key, field, by } : { op: "hincrby", key, field, by, min };

function resolve(options: RedisPortOptions) {
  const prefix = options.keyPrefix ?? "lockstep:bounty:";
  const casAttempts = options.casAttempts ?? 32;
  if (typeof prefix !== "string") {
    throw new LockstepDefinitionError(
      `Expected \`keyPrefix\` to be a string, got \`${String(prefix)}\` (${typeof prefix}).`,
    );
  }
  if (!Number.isInteger(casAttempts) || casAttempts < 1) {
    throw new LockstepDefinitionError(
      `Expected \`casAttempts\` to be an integer >= 1, got \`${String(casAttempts)}\` (${typeof casAttempts}).`,
    );
  }
  return { prefix, casAttempts };
}

/** Whether a batch failed because the guard of its write at `index` did not hold: nothing was written. */
function guardLost(error: unknown, index: number): boolean {
  return StoreError.is(error) && error.kind === "conflict" && error.index === index;
}

function kept(what: string, attempts: number): StoreError {
  return new StoreError(
    "transient",
    `${what} kept changing under ${attempts} attempts to update it; nothing was written.`,
  );
}

/** Reads a JSON document's value and version; `undefined` when the key does not exist. */
async function readJson<T>(
  handle: RedisHandle,
  key: string,
): Promise<{ value: T; version: number } | undefined> {
  const doc = await handle.get(key);
  if (doc === undefined) return undefined;
  if (doc.type !== "json") {
    throw new StoreError("not_committed", `Key "${key}" holds a ${doc.type}, not a JSON document.`);
  }
  return { value: doc.value as T, version: doc.version };
}

/** Reads a hash document's fields; empty when the key does not exist. */
async function readHash(
  handle: RedisHandle,
  key: string,
): Promise<Readonly<Record<string, string>>> {
  const doc = await handle.get(key);
  if (doc === undefined) return {};
  if (doc.type !== "hash") {
    throw new StoreError("not_committed", `Key "${key}" holds a ${doc.type}, not a hash document.`);
  }
  return doc.value;
}

/** Validates what a key holds; a record that is not what it should be is a typed error, not a crash. */
function valid<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new StoreError(
    "not_committed",
    `${what} is not valid: ${parsed.error.issues[0]?.message ?? "it failed its schema"}.`,
  );
}

interface ClaimsDoc {
  readonly claims: readonly Claim[];
}

/**
 * Claims on Redis, with the semantics of `memoryClaimStore`. All claims on one target live in one
 * JSON document, so "at most one active, unexpired claim per target" is decided by one
 * compare-and-set on that document's version. Creating a claim writes, in the same atomic batch,
 * the target's document, a pointer from the claim id to its target, and the target's entry in the
 * list of targets: a claim is never findable by id without existing, nor the reverse.
 *
 * Keys: `<prefix>claims:target:<targetRef>` (JSON), `<prefix>claims:id:<claimId>` (JSON pointer),
 * `<prefix>claims:targets` (hash of every target).
 *
 * @example
 * ```ts
 * const claims = redisClaimStore(redisStore(new Redis(url)));
 * ```
 */
export function redisClaimStore(
  store: StepStore<RedisHandle>,
  options: RedisPortOptions = {},
): ClaimStore<RedisHandle> {
  const { prefix, casAttempts } = resolve(options);
  const targetKey = (targetRef: string) => `${prefix}claims:target:${targetRef}`;
  const pointerKey = (claimId: string) => `${prefix}claims:id:${claimId}`;
  const targetsKey = `${prefix}claims:targets`;

  const targetOf = async (handle: RedisHandle, claimId: string) =>
    (await readJson<{ targetRef: string }>(handle, pointerKey(claimId)))?.value.targetRef;
  const claimsOn = async (handle: RedisHandle, targetRef: string) =>
    (await readJson<ClaimsDoc>(handle, targetKey(targetRef)))?.value.claims ?? [];

  /** Edits one claim by compare-and-set on its target's document; `edit` returns it unchanged to write nothing. */
  const change = async (
    handle: RedisHandle,
    claimId: string,
    edit: (claim: Claim) => Claim,
  ): Promise<Claim | undefined> => {
    const target = await targetOf(handle, claimId);
    if (target === undefined) return undefined;
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const doc = await readJson<ClaimsDoc>(handle, targetKey(target));
      const claim = doc?.value.claims.find((c) => c.claimId === claimId);
      if (doc === undefined || claim === undefined) return undefined;
      const next = edit(claim);
      if (next === claim) return claim;
      const written = await handle.apply(
        set(
          targetKey(target),
          { claims: doc.value.claims.map((c) => (c.claimId === claimId ? next : c)) },
          doc.version,
        ),
      );
      if (written.affected === 1) return next;
    }
    throw kept(`The claims on "${target}"`, casAttempts);
  };

  return {
    store,
    claimOrRenew: async (handle, request) => {
      const { claimId, targetRef } = request;
      for (let attempt = 0; attempt < casAttempts; attempt++) {
        const doc = await readJson<ClaimsDoc>(handle, targetKey(targetRef));
        const { outcome, claims } = claimInDocument(doc?.value.claims ?? [], request);
        if (claims === undefined) return outcome;
        // A new claim is findable by id and its target listed in the same batch that creates it.
        const created = outcome.renewed
          ? []
          : [
              set(pointerKey(claimId), { targetRef }, "absent"),
              hset(targetsKey, { [targetRef]: 1 }),
            ];
        try {
          await handle.batch([
            set(targetKey(targetRef), { claims }, doc?.version ?? "absent"),
            ...created,
          ]);
          return outcome;
        } catch (error) {
          // Another claimer wrote the target first: decide again on what it left.
          if (guardLost(error, 0)) continue;
          throw error;
        }
      }
      throw kept(`The claims on "${targetRef}"`, casAttempts);
    },
    get: async (handle, claimId) => {
      const target = await targetOf(handle, claimId);
      if (target === undefined) return undefined;
      return (await claimsOn(handle, target)).find((c) => c.claimId === claimId);
    },
    release: async (handle, claimId) => {
      let released = false;
      await change(handle, claimId, (c) => {
        if (c.status !== "active") return c;
        released = true;
        return { ...c, status: "released" };
      });
      return released;
    },
    complete: async (handle, claimId) => {
      const done = await change(handle, claimId, (c) =>
        c.status === "completed" ? c : { ...c, status: "completed" },
      );
      return done ?? rejected(`Claim "${claimId}" does not exist.`);
    },
    list: async (handle) => {
      const targets = Object.keys(await readHash(handle, targetsKey)).sort();
      const all = await Promise.all(targets.map((t) => claimsOn(handle, t)));
      return all
        .flat()
        .map((c) => valid(claimSchema, c, `Claim "${c.claimId}"`))
        .sort((a, b) => (a.claimId < b.claimId ? -1 : a.claimId > b.claimId ? 1 : 0));
    },
  };
}

interface StoredReservation extends Reservation {
  /** The idempotency key of the capture that moved it, kept for audits. */
  readonly captureKey?: string;
}

/**
 * A credits ledger on Redis, with the semantics of `memoryCredits`. Each agent's balance is a hash
 * document (`available`, `reserved`) and each reservation a JSON document. Every movement of
 * credits — reserve, capture, void — is one atomic batch (one Lua script) that writes the
 * reservation guarded by the version it was read at (or by its absence) together with the balance
 * increments, the debit refused below zero: the batch applies whole or not at all, and a second
 * movement of the same reservation finds its guard lost and re-reads. Conservation therefore holds
 * under any concurrency.
 *
 * Keys: `<prefix>credits:balance:<agentId>` (hash), `<prefix>credits:reservation:<id>` (JSON),
 * `<prefix>credits:agents` and `<prefix>credits:reservations` (hashes listing both).
 *
 * @example
 * ```ts
 * const credits = redisCredits(redisStore(new Redis(url)));
 * await credits.seed(credits.store.handle, { alice: 100 });
 * ```
 */
export function redisCredits(
  store: StepStore<RedisHandle>,
  options: RedisPortOptions = {},
): CreditsService<RedisHandle> & {
  /** Sets agents' available credits (their reservations untouched) and lists them in the ledger. */
  seed(handle: RedisHandle, balances: Readonly<Record<string, number>>): Promise<void>;
} {
  const { prefix, casAttempts } = resolve(options);
  const balanceKey = (agentId: string) => `${prefix}credits:balance:${agentId}`;
  const reservationKey = (id: string) => `${prefix}credits:reservation:${id}`;
  const agentsKey = `${prefix}credits:agents`;
  const reservationsKey = `${prefix}credits:reservations`;

  const read = async (handle: RedisHandle, reservationId: string) => {
    const doc = await readJson<StoredReservation>(handle, reservationKey(reservationId));
    return (
      doc && {
        reservation: valid(reservationSchema, doc.value, `Reservation "${reservationId}"`),
        version: doc.version,
      }
    );
  };
  const balance = async (handle: RedisHandle, agentId: string): Promise<Balance> => {
    const fields = await readHash(handle, balanceKey(agentId));
    return { available: Number(fields.available ?? 0), reserved: Number(fields.reserved ?? 0) };
  };

  /**
   * Moves a held reservation to `next` with the balance increments of that movement, in one batch
   * guarded by the reservation's version; `decide` re-runs on fresh state after a lost race and
   * returns `undefined` when nothing is to be written.
   */
  const move = async (
    handle: RedisHandle,
    reservationId: string,
    decide: (
      r: Reservation,
    ) => { readonly next: StoredReservation; readonly writes: readonly RedisWrite[] } | undefined,
  ): Promise<Reservation> => {
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const current = await read(handle, reservationId);
      if (current === undefined) return rejected(`Reservation "${reservationId}" does not exist.`);
      const decision = decide(current.reservation);
      if (decision === undefined) return current.reservation;
      try {
        await handle.batch([
          set(reservationKey(reservationId), decision.next, current.version),
          ...decision.writes,
        ]);
        return valid(reservationSchema, decision.next, `Reservation "${reservationId}"`);
      } catch (error) {
        if (guardLost(error, 0)) continue;
        if (StoreError.is(error) && error.kind === "conflict") {
          throw new StoreError(
            "not_committed",
            `The ledger refused to move reservation "${reservationId}": ${error.message}`,
            { cause: error },
          );
        }
        throw error;
      }
    }
    throw kept(`Reservation "${reservationId}"`, casAttempts);
  };

  const list = async (handle: RedisHandle) => {
    const ids = Object.keys(await readHash(handle, reservationsKey)).sort();
    const all = await Promise.all(ids.map((id) => read(handle, id)));
    return all.flatMap((r) => (r === undefined ? [] : [r.reservation]));
  };

  return {
    store,
    seed: async (handle, balances) => {
      const agents = Object.entries(balances);
      if (agents.length === 0) return;
      await handle.batch([
        ...agents.map(([agent, available]) => hset(balanceKey(agent), { available })),
        hset(agentsKey, Object.fromEntries(agents.map(([agent]) => [agent, 1]))),
      ]);
    },
    reserve: async (handle, request) => {
      const { reservationId, agentId, amount } = request;
      for (let attempt = 0; attempt < casAttempts; attempt++) {
        const existing = existingReservation(
          (await read(handle, reservationId))?.reservation,
          request,
        );
        if (existing !== undefined) return existing;
        const held = heldReservation(request);
        try {
          await handle.batch([
            set(reservationKey(reservationId), held, "absent"),
            add(balanceKey(agentId), "available", -amount, 0),
            add(balanceKey(agentId), "reserved", amount),
            hset(reservationsKey, { [reservationId]: agentId }),
          ]);
          return held;
        } catch (error) {
          // The same reservation was made concurrently: read it back and compare.
          if (guardLost(error, 0)) continue;
          if (guardLost(error, 1))
            return rejected(`${agentId} does not have ${amount} credits available.`);
          throw error;
        }
      }
      throw kept(`Reservation "${reservationId}"`, casAttempts);
    },
    capture: (handle, request) =>
      move(handle, request.reservationId, (r) => {
        const { toAgentId, idempotencyKey } = request;
        if (alreadyCaptured(r, request)) return undefined;
        return {
          next: { ...r, status: "captured", capturedTo: toAgentId, captureKey: idempotencyKey },
          writes: [
            add(balanceKey(r.agentId), "reserved", -r.amount, 0),
            add(balanceKey(toAgentId), "available", r.amount),
            hset(agentsKey, { [toAgentId]: 1 }),
          ],
        };
      }),
    void: (handle, reservationId) =>
      move(handle, reservationId, (r) =>
        r.status !== "held"
          ? undefined
          : {
              next: { ...r, status: "voided" },
              writes: [
                add(balanceKey(r.agentId), "reserved", -r.amount, 0),
                add(balanceKey(r.agentId), "available", r.amount),
              ],
            },
      ),
    get: async (handle, reservationId) => (await read(handle, reservationId))?.reservation,
    list,
    balance,
    total: async (handle) => {
      const agents = Object.keys(await readHash(handle, agentsKey));
      const balances = await Promise.all(agents.map((agent) => balance(handle, agent)));
      return balances.reduce((sum, b) => sum + b.available + b.reserved, 0);
    },
  };
}
