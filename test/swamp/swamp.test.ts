import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DocumentServer, startDocumentServer } from "../adapters/http/document-server.js";
import { openSchema, PG_URL, type TestSchema } from "../adapters/postgres/pg-test.js";
import { bundle, OUT, ROOT } from "../runtimes/matrix-build.js";

// swamp on Deno: the example repository (examples/swamp/swamp.ts) run as a Deno program from the
// published build, its log on Postgres, its remote a real object service on 127.0.0.1 with
// conditional writes. Processes are killed with SIGKILL, by pid, with a push in flight.
const DENO = join(ROOT, "node_modules/.bin/deno");
const CONFIG = join(ROOT, "test/runtimes/deno.json");
const ALL = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];
const DAY = 86_400_000;

let program: string;
let server: DocumentServer;
let db: TestSchema;
let cacheDir: string;

beforeAll(async () => {
  program = await bundle(
    "deno",
    fileURLToPath(new URL("./swamp-cli.ts", import.meta.url)),
    join(OUT, `swamp-cli-${process.pid}.mjs`),
  );
}, 60_000);
afterAll(() => rmSync(program, { force: true }));

beforeEach(async () => {
  server = await startDocumentServer();
  db = await openSchema();
  cacheDir = mkdtempSync(join(tmpdir(), "lockstep-swamp-"));
  return async () => {
    await server.close();
    await db.close();
    rmSync(cacheDir, { recursive: true, force: true });
  };
});

const config = (clockAheadMs = 0) =>
  JSON.stringify({
    cacheDir,
    baseUrl: server.baseUrl,
    pgUrl: PG_URL,
    schema: db.schema,
    clockAheadMs,
  });

interface Exit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

function start(args: readonly string[], flags = ALL): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(DENO, ["run", ...flags, "--config", CONFIG, program, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const exit = new Promise<Exit>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, exit };
}

async function swamp(...args: string[]): Promise<unknown> {
  const done = await start(args).exit;
  expect(done.code, done.stderr).toBe(0);
  return JSON.parse(done.stdout);
}

/** Waits (on the server's own count, not a clock) until `condition` holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

const puts = (path: string) => server.requests.filter((r) => r === `PUT ${path}`).length;
const cached = (id: string) => JSON.parse(readFileSync(join(cacheDir, `${id}.json`), "utf8"));

describe("swamp on Deno: every mutation is recorded before its cache write, and sync pushes it", () => {
  it("put writes the cache and pushes; sync then takes the fast path and sends nothing", async () => {
    expect(await swamp("put", "doc-1", '{"title":"one"}', config())).toEqual({ ok: true });
    expect(cached("doc-1")).toEqual({ title: "one" });
    expect(server.document("swamp/doc-1")?.body).toEqual({ title: "one" });
    const requests = server.requests.length;
    expect(await swamp("sync", config(DAY))).toEqual({ fastPath: true, finished: 0 });
    expect(server.requests.length, "the fast path reached the remote").toBe(requests);
  }, 60_000);

  it("killed between the cache write and the push: the next sync pushes the change, exactly once", async () => {
    const held = server.fault({
      method: "PUT",
      pathPrefix: "swamp/",
      action: { type: "hold-before-apply" },
    });
    const { child, exit } = start(["put", "doc-1", '{"title":"one"}', config()]);
    // The push is on the wire, unapplied: the cache is written, the remote is not.
    await until(() => held.fired() === 1);
    process.kill(child.pid as number, "SIGKILL");
    expect((await exit).signal).toBe("SIGKILL");
    expect(cached("doc-1")).toEqual({ title: "one" });
    expect(server.document("swamp/doc-1")).toBeUndefined();
    const applied = server.applied;
    // The fast path must not skip it: the log holds the unfinished mutation.
    expect(await swamp("sync", config(DAY))).toEqual({ fastPath: false, finished: 1 });
    expect(server.document("swamp/doc-1")?.body).toEqual({ title: "one" });
    expect(server.applied - applied, "pushed exactly once").toBe(1);
    expect(await swamp("sync", config(DAY))).toEqual({ fastPath: true, finished: 0 });
    // The killed process's push, still on the wire, arrives late: the fence refuses it.
    held.release();
    await until(() => held.statuses().length === 1);
    expect(held.statuses()).toEqual([409]);
    expect(server.applied - applied).toBe(1);
  }, 60_000);

  it("killed after the push landed, its response unheard: sync finds it and pushes nothing again", async () => {
    expect(await swamp("put", "doc-1", '{"v":1}', config())).toEqual({ ok: true });
    const held = server.fault({
      method: "PUT",
      pathPrefix: "swamp/",
      action: { type: "hold-after-apply" },
    });
    const { child, exit } = start(["put", "doc-1", '{"v":2}', config()]);
    await until(() => held.fired() === 1);
    process.kill(child.pid as number, "SIGKILL");
    expect((await exit).signal).toBe("SIGKILL");
    expect(server.document("swamp/doc-1")?.body).toEqual({ v: 2 });
    const before = puts("swamp/doc-1");
    expect(await swamp("sync", config(DAY))).toEqual({ fastPath: false, finished: 1 });
    expect(puts("swamp/doc-1"), "the landed push was sent again").toBe(before);
    expect(server.document("swamp/doc-1")?.body).toEqual({ v: 2 });
  }, 60_000);

  it("an older unfinished mutation never pushes its content over a newer one", async () => {
    const held = server.fault({
      method: "PUT",
      pathPrefix: "swamp/",
      action: { type: "hold-before-apply" },
    });
    const { child, exit } = start(["put", "doc-1", '{"v":"old"}', config()]);
    await until(() => held.fired() === 1);
    process.kill(child.pid as number, "SIGKILL");
    await exit;
    expect(await swamp("put", "doc-1", '{"v":"new"}', config())).toEqual({ ok: true });
    expect(await swamp("sync", config(DAY))).toEqual({ fastPath: false, finished: 1 });
    expect(server.document("swamp/doc-1")?.body).toEqual({ v: "new" });
    expect(cached("doc-1")).toEqual({ v: "new" });
  }, 60_000);

  it("remove deletes the cached copy and the remote one with If-Match", async () => {
    expect(await swamp("put", "doc-2", '{"x":1}', config())).toEqual({ ok: true });
    expect(await swamp("remove", "doc-2", config())).toEqual({ ok: true });
    expect(existsSync(join(cacheDir, "doc-2.json"))).toBe(false);
    expect(server.document("swamp/doc-2")).toBeUndefined();
  }, 60_000);
});

describe("swamp on Deno without the permissions lockstep needs", () => {
  it("fails with a message naming --allow-net and --allow-env, not a stack trace", async () => {
    const done = await start(["sync", config()], ["--allow-read", "--allow-write"]).exit;
    expect(done.code, done.stderr).toBe(2);
    expect(done.stderr).toContain("postgresSagaLog (lockstep/postgres) on Deno needs");
    expect(done.stderr).toContain("--allow-env");
    expect(done.stderr).toContain("--allow-net");
    expect(done.stderr, "a stack trace").not.toMatch(/^\s+at /m);
    expect(done.stdout).toBe("");
  }, 60_000);

  it("with --allow-env but not --allow-net, the message names --allow-net alone", async () => {
    const done = await start(["sync", config()], ["--allow-read", "--allow-write", "--allow-env"])
      .exit;
    expect(done.code, done.stderr).toBe(2);
    expect(done.stderr).toContain("--allow-net (to reach Postgres at 127.0.0.1:5432)");
    expect(done.stderr).not.toContain("--allow-env (");
  }, 60_000);
});
