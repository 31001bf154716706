import type {
  HttpDocument,
  HttpDocumentClient,
  HttpIndexClient,
} from "../../adapters/http/index.js";
import { LockstepDefinitionError, type StepStore, StoreError } from "../../index.js";
import { conflict } from "./cas-document.js";
import { applyTransition } from "./memory-ports.js";
import { type Bounty, bountySchema } from "./model.js";
import type { BountyStore } from "./ports.js";

/** Options of {@link httpBountyStore}. */
export interface HttpBountyStoreOptions {
  /**
   * The folder bounty documents live in: bounty `b1` is the document `<prefix>/b1`.
   * @default "bounties"
   * @example `httpBountyStore(store, { prefix: "marketplace/bounties" })`
   */
  readonly prefix?: string;
  /**
   * The document that lists every bounty id, so bounties can be listed on a service that only reads
   * and writes single documents. It must lie outside `prefix`.
   * @default "bounty-catalog"
   */
  readonly catalogPath?: string;
  /**
   * How many times a write is retried when another writer changed the document between its read and
   * its `If-Match` write; the call then fails as `transient`.
   * @default 32
   */
  readonly casAttempts?: number;
  /**
   * How many documents `list`, `indexDrift` and `repairIndexes` read at once.
   * @default 8
   */
  readonly readConcurrency?: number;
}

interface Catalog {
  readonly bountyIds: readonly string[];
}

/** The status the index records, compared by the bounty port: the document's own field. */
const INDEXED_FIELD = "status";

/** How many times one entry is re-synced when its document keeps moving while it is repaired. */
const REPAIR_ROUNDS = 3;

/**
 * Bounties on an HTTP document store created with `statusIndex: { field: "status" }`: each bounty is
 * one JSON document, created with `If-None-Match: *` and moved only by `If-Match` writes of the ETag
 * it was read at. After each document write the adapter writes the bounty's status-index marker in a
 * separate request, so a write can commit while the call fails (`unknown`, `documentCommitted`); the
 * saga's probe then finds the committed bounty, and {@link BountyStore.repairIndexes} (run by the
 * reconciler) rewrites the stale marker. The store has no transactions: bounty steps on it are
 * probed saga steps.
 *
 * Bounty ids are also recorded in a catalog document (`catalogPath`), written before the bounty
 * itself, so every bounty is listed; an id whose bounty was never created is skipped.
 *
 * @example
 * ```ts
 * const documents = httpDocumentStore({ baseUrl, statusIndex: { field: "status" } });
 * const bounties = httpBountyStore(documents);
 * const sagas = bountySagas({ bounties, claims, credits });
 * ```
 */
export function httpBountyStore(
  store: StepStore<HttpDocumentClient>,
  options: HttpBountyStoreOptions = {},
): BountyStore<HttpDocumentClient> {
  const prefix = options.prefix ?? "bounties";
  const catalogPath = options.catalogPath ?? "bounty-catalog";
  const casAttempts = options.casAttempts ?? 32;
  const readConcurrency = options.readConcurrency ?? 8;
  checkOptions(store, prefix, catalogPath, casAttempts, readConcurrency);
  const pathOf = (bountyId: string) => `${prefix}/${encodeURIComponent(bountyId)}`;

  const read = async (
    handle: HttpDocumentClient,
    bountyId: string,
  ): Promise<HttpDocument<Bounty> | undefined> => {
    const doc = await handle.get<unknown>(pathOf(bountyId));
    if (doc === undefined) return undefined;
    const parsed = bountySchema.safeParse(doc.body);
    if (!parsed.success) {
      throw new StoreError(
        "not_committed",
        `The document "${pathOf(bountyId)}" is not a bounty: ${parsed.error.issues[0]?.message ?? "it failed the schema"}.`,
      );
    }
    return { body: parsed.data, etag: doc.etag };
  };

  const catalog = async (handle: HttpDocumentClient) =>
    (await handle.get<Catalog>(catalogPath))?.body.bountyIds ?? [];

  /** Adds an id to the catalog by compare-and-set; a no-op when it is already there. */
  const register = async (handle: HttpDocumentClient, bountyId: string) => {
    for (let attempt = 0; attempt < casAttempts; attempt++) {
      const doc = await handle.get<Catalog>(catalogPath);
      const ids = doc?.body.bountyIds ?? [];
      if (ids.includes(bountyId)) return;
      const next: Catalog = { bountyIds: [...ids, bountyId].sort() };
      try {
        await handle.put(
          catalogPath,
          next,
          doc === undefined ? { ifNoneMatch: "*" } : { ifMatch: doc.etag },
        );
        return;
      } catch (error) {
        if (lostRace(error)) continue;
        // The catalog has no status: only its (absent) marker failed, after the catalog committed.
        if (documentCommitted(error)) return;
        throw error;
      }
    }
    throw kept(catalogPath, casAttempts);
  };

  const index = (handle: HttpDocumentClient): HttpIndexClient => {
    if (handle.index === undefined) {
      throw new LockstepDefinitionError(
        `The bounty store "${store.id}" was given a handle without a status index; create it with \`statusIndex: { field: "status" }\`.`,
      );
    }
    return handle.index;
  };

  /** What is wrong with one bounty's index marker, read fresh, or `undefined` when it agrees. */
  const driftOf = async (handle: HttpDocumentClient, bountyId: string) => {
    const path = pathOf(bountyId);
    const doc = await handle.get<Record<string, unknown>>(path);
    const marker = await index(handle).read(path);
    if (doc === undefined) {
      return marker === undefined
        ? undefined
        : `bounty ${bountyId} has no document, but its index marker says ${String(marker.value)}`;
    }
    const status = doc.body[INDEXED_FIELD];
    if (marker === undefined)
      return `bounty ${bountyId} is ${String(status)} (ETag ${doc.etag}) but has no index marker`;
    if (marker.value !== status || (marker.etag !== null && marker.etag !== doc.etag)) {
      return `bounty ${bountyId} is ${String(status)} (ETag ${doc.etag}) but its index marker says ${String(marker.value)} (ETag ${marker.etag ?? "none"})`;
    }
    return undefined;
  };

  return {
    store,
    get: async (handle, bountyId) => (await read(handle, bountyId))?.body,
    create: async (handle, bounty) => {
      const parsed = bountySchema.safeParse(bounty);
      if (!parsed.success) {
        throw new StoreError(
          "not_committed",
          `Bounty "${bounty.bountyId}" is not valid: ${parsed.error.issues[0]?.message ?? "it failed the schema"}.`,
        );
      }
      const same = (existing: Bounty) =>
        existing.reservationId === bounty.reservationId
          ? existing
          : conflict(`Bounty "${bounty.bountyId}" already exists with another reservation.`);
      const existing = await read(handle, bounty.bountyId);
      if (existing !== undefined) return same(existing.body);
      await register(handle, bounty.bountyId);
      try {
        await handle.put(pathOf(bounty.bountyId), parsed.data, { ifNoneMatch: "*" });
        return parsed.data;
      } catch (error) {
        if (!lostRace(error)) throw error;
        const raced = await read(handle, bounty.bountyId);
        if (raced === undefined) throw error;
        return same(raced.body);
      }
    },
    transition: async (handle, bountyId, change) => {
      for (let attempt = 0; attempt < casAttempts; attempt++) {
        const current = await read(handle, bountyId);
        const next = applyTransition(current?.body, bountyId, change);
        try {
          // applyTransition refuses a missing bounty, so `current` is defined here.
          await handle.put(pathOf(bountyId), next, { ifMatch: (current as HttpDocument).etag });
          return next;
        } catch (error) {
          // Someone wrote the bounty since we read it: decide again on what they left.
          if (lostRace(error)) continue;
          throw error;
        }
      }
      throw kept(pathOf(bountyId), casAttempts);
    },
    list: async (handle) => {
      const docs = await mapLimited(await catalog(handle), readConcurrency, (id) =>
        read(handle, id),
      );
      return docs
        .flatMap((doc) => (doc === undefined ? [] : [doc.body]))
        .sort((a, b) => (a.bountyId < b.bountyId ? -1 : a.bountyId > b.bountyId ? 1 : 0));
    },
    repairIndexes: async (handle) => {
      const repaired = await mapLimited(await catalog(handle), readConcurrency, async (id) => {
        let synced = false;
        for (let round = 0; round < REPAIR_ROUNDS; round++) {
          if ((await driftOf(handle, id)) === undefined) return synced;
          // The marker is written unguarded: a writer racing this sync can leave it stale again,
          // so the entry is read back and synced once more until it agrees.
          await index(handle).sync(pathOf(id));
          synced = true;
        }
        return synced && (await driftOf(handle, id)) === undefined;
      });
      return repaired.filter(Boolean).length;
    },
    indexDrift: async (handle) =>
      (
        await mapLimited(await catalog(handle), readConcurrency, (id) => driftOf(handle, id))
      ).flatMap((drift) => (drift === undefined ? [] : [drift])),
  };
}

function checkOptions(
  store: StepStore<HttpDocumentClient>,
  prefix: string,
  catalogPath: string,
  casAttempts: number,
  readConcurrency: number,
): void {
  const segments = /^[^/]+(\/[^/]+)*$/;
  if (typeof prefix !== "string" || !segments.test(prefix)) {
    throw new LockstepDefinitionError(
      `Expected \`prefix\` to be a document folder such as "bounties", got "${String(prefix)}".`,
    );
  }
  if (typeof catalogPath !== "string" || !segments.test(catalogPath)) {
    throw new LockstepDefinitionError(
      `Expected \`catalogPath\` to be a document path such as "bounty-catalog", got "${String(catalogPath)}".`,
    );
  }
  if (catalogPath.startsWith(`${prefix}/`)) {
    throw new LockstepDefinitionError(
      `Expected \`catalogPath\` to lie outside the bounty folder "${prefix}", got "${catalogPath}"; it would be read as a bounty.`,
    );
  }
  for (const [name, value] of [
    ["casAttempts", casAttempts],
    ["readConcurrency", readConcurrency],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new LockstepDefinitionError(
        `Expected \`${name}\` to be an integer >= 1, got \`${String(value)}\` (${typeof value}).`,
      );
    }
  }
  if (store?.handle?.index === undefined) {
    throw new LockstepDefinitionError(
      `The bounty store "${String(store?.id)}" has no status index; create it with \`httpDocumentStore({ …, statusIndex: { field: "status" } })\`.`,
    );
  }
}

/** A 412: the ETag moved on and nothing was written. */
function lostRace(error: unknown): boolean {
  return StoreError.is(error) && error.kind === "conflict";
}

/**
 * The adapter's `HttpStoreError` says the document write committed and only the index marker after
 * it failed. Recognized by shape, so the recipe does not load the HTTP adapter at runtime.
 */
function documentCommitted(error: unknown): boolean {
  return (
    StoreError.is(error) &&
    (error as unknown as { documentCommitted?: unknown }).documentCommitted === true
  );
}

function kept(path: string, attempts: number): StoreError {
  return new StoreError(
    "transient",
    `The document "${path}" kept changing under ${attempts} attempts to update it; nothing was written by the last one.`,
  );
}

/** Maps `items` with at most `limit` calls in flight, keeping their order. */
async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await map(items[at] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
