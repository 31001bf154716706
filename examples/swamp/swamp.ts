/**
 * swamp: a repository of JSON documents with a local cache directory and a remote object store
 * reached over HTTP with conditional writes (`If-Match` / `If-None-Match: *`), on lockstep.
 *
 * Every public mutation (`put`, `remove`) is a saga whose write-ahead intent lockstep makes durable
 * in the saga log before its first step runs, and the first step is the cache write: so a process
 * killed anywhere — before, during or after the cache write, before or during the push — leaves a
 * recorded, unfinished mutation behind. `sync` finishes them: its "nothing changed" fast path asks
 * the log, not the cache, so it can never skip a recorded change, and the push is a read-compare-
 * write with the remote's ETag, so a push whose response was lost is found by the probe and never
 * repeated. Runs on Node, Bun and Deno (test/swamp runs it on Deno with the Postgres log).
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type Clock,
  committed,
  createRecoverer,
  createRunner,
  defineSaga,
  defineStore,
  notCommitted,
  type SagaLog,
} from "lockstep";
import type { HttpDocumentClient, HttpDocumentStore } from "lockstep/http";
import { z } from "zod";

/** A document id: letters, digits, `-`, `_` and `.`, so it is a safe file name and URL path. */
const documentId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "a document id");

const mutation = z.object({ id: documentId, op: z.enum(["put", "delete"]), body: z.unknown() });
type Mutation = z.infer<typeof mutation>;

export interface SwampOptions {
  /** The local cache directory; it must exist. */
  readonly cacheDir: string;
  /**
   * The remote object store: `httpDocumentStore` on the object service. Create it with
   * `fencing: true` when the service implements lockstep's fencing protocol: then a push of a killed
   * process still on the wire is refused once a sync has looked, and the sync decides at once.
   * Without it such a push may still land, so the sync parks the mutation in doubt and a later sync
   * probes it again.
   */
  readonly remote: HttpDocumentStore;
  /** A durable saga log: the write-ahead record of every mutation. */
  readonly log: SagaLog;
  /** The folder of the remote the documents live in. @default "swamp" */
  readonly prefix?: string;
  /** @default the system clock */
  readonly clock?: Clock;
}

/** What a sync did. */
export interface SyncReport {
  /** Whether the log held no unfinished mutation, so nothing was read or pushed. */
  readonly fastPath: boolean;
  /** Unfinished mutations recovery finished (pushed, or found already pushed). */
  readonly finished: number;
}

const NAME = "swamp.mutation";
const UNFINISHED = ["running", "compensating", "in_doubt"] as const;

/** The cache: one JSON file per document, written to a temporary file and renamed into place. */
function cacheStore(dir: string) {
  return defineStore({ id: `swamp-cache:${dir}`, handle: { dir }, capabilities: {} });
}

const cachePath = (dir: string, id: string) => join(dir, `${id}.json`);

async function readCached(dir: string, id: string): Promise<{ body: unknown } | undefined> {
  try {
    return { body: JSON.parse(await readFile(cachePath(dir, id), "utf8")) };
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Makes the remote copy of `id` what the cache holds now (the cache, not the mutation's input: an
 * older unfinished mutation then pushes the newest content, never an older one over it).
 */
async function push(dir: string, remote: HttpDocumentClient, path: string, id: string) {
  for (let round = 0; ; round++) {
    const cached = await readCached(dir, id);
    const current = await remote.get(path);
    if (cached === undefined) {
      if (current === undefined) return { etag: null };
      const r = await remote.delete(path, { ifMatch: current.etag }).catch(retryOnConflict(round));
      if (r !== undefined) return { etag: null };
    } else {
      if (current !== undefined && same(current.body, cached.body)) return { etag: current.etag };
      const guard =
        current === undefined ? { ifNoneMatch: "*" as const } : { ifMatch: current.etag };
      const r = await remote.put(path, cached.body, guard).catch(retryOnConflict(round));
      if (r !== undefined) return { etag: r.etag };
    }
  }
}

/** A conflict (someone wrote in between) is read again and retried, a few times. */
const retryOnConflict = (round: number) => (error: unknown) => {
  if ((error as { kind?: string }).kind === "conflict" && round < 4) return undefined;
  throw error;
};

/** Opens a swamp repository. */
export function openSwamp(options: SwampOptions) {
  const { cacheDir, remote, log } = options;
  const prefix = options.prefix ?? "swamp";
  const clock = options.clock;
  const cache = cacheStore(cacheDir);
  const remotePath = (id: string) => `${prefix}/${id}`;
  const saga = defineSaga(NAME, { input: mutation })
    .step("cache", {
      store: cache,
      kind: "retriable",
      output: z.object({ cached: z.literal(true) }),
      execute: async ({ input, handle }) => {
        const file = cachePath(handle.dir, input.id);
        if (input.op === "delete") await rm(file, { force: true });
        else {
          await writeFile(`${file}.tmp`, JSON.stringify(input.body));
          await rename(`${file}.tmp`, file);
        }
        return { cached: true as const };
      },
    })
    .step("push", {
      store: remote,
      kind: "retriable",
      output: z.object({ etag: z.string().nullable() }),
      execute: ({ input, handle }) => push(cacheDir, handle, remotePath(input.id), input.id),
      probe: async ({ input, handle }) => {
        const cached = await readCached(cacheDir, input.id);
        const current = await handle.get(remotePath(input.id));
        if (cached === undefined)
          return current === undefined ? committed({ etag: null }) : notCommitted();
        return current !== undefined && same(current.body, cached.body)
          ? committed({ etag: current.etag })
          : notCommitted();
      },
    })
    .build();
  const runner = createRunner({ log, ...(clock ? { clock } : {}) });
  const recoverer = createRecoverer({ runner, sagas: [saga] });
  const run = (input: Mutation) => runner.run(saga, input);

  return {
    /** Writes a document: the intent is logged, then the cache written, then the remote pushed. */
    put: (id: string, body: unknown) => run({ id, op: "put", body }),
    /** Removes a document, the same way. */
    remove: (id: string) => run({ id, op: "delete", body: null }),
    /** The cached copy of a document, or `undefined`. */
    read: async (id: string) => (await readCached(cacheDir, documentId.parse(id)))?.body,
    /**
     * Finishes every recorded mutation a process left unfinished (its lease lapsed). With none in
     * the log it returns at once: the fast path, which reads the log and nothing else.
     */
    sync: async (): Promise<SyncReport> => {
      const open = await log.list({ name: NAME, status: [...UNFINISHED], limit: 1 });
      if (open.length === 0) return { fastPath: true, finished: 0 };
      const report = (await recoverer.recover())._unsafeUnwrap();
      return { fastPath: false, finished: report.counts.completed };
    },
  };
}
