import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * lockstep's ESM build: dist/ when it has been built (CI builds before testing), otherwise a fresh
 * ESM build of the sources with the package's own tsup config, into a temporary folder.
 */
function esmBuild(): { dir: string; cleanup(): void } {
  const dist = join(ROOT, "dist");
  if (existsSync(join(dist, "index.js")) && existsSync(join(dist, "d1/index.js"))) {
    return { dir: dist, cleanup: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "lockstep-esm-"));
  execFileSync(
    process.execPath,
    [
      join(ROOT, "node_modules/tsup/dist/cli-default.js"),
      "--out-dir",
      dir,
      "--format",
      "esm",
      "--no-dts",
      "--no-sourcemap",
    ],
    { cwd: ROOT, stdio: "pipe" },
  );
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let mf: Miniflare;
let cleanup = () => {};

beforeAll(async () => {
  const esm = esmBuild();
  cleanup = esm.cleanup;
  // The Worker imports "lockstep" and "lockstep/d1", resolved to the ESM build, and zod; bundled
  // into one module as wrangler would.
  const bundle = await build({
    entryPoints: [join(ROOT, "test/workerd/order-worker.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    // The ESM build may sit in a temporary folder: its imports resolve from the project's packages.
    nodePaths: [join(ROOT, "node_modules")],
    alias: { lockstep: join(esm.dir, "index.js"), "lockstep/d1": join(esm.dir, "d1/index.js") },
    logLevel: "silent",
  });
  const script = bundle.outputFiles[0]?.text;
  if (script === undefined) throw new Error("esbuild produced no Worker script.");
  expect(script, "the Worker must run lockstep's build, not a stub").toContain("d1SagaLog");
  mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2024-09-23",
    d1Databases: ["DB", "LEDGER"],
  });
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  cleanup();
});

async function call(
  path: string,
  method = "POST",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await mf.dispatchFetch(`http://worker${path}`, { method });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("lockstep inside workerd: a saga over two D1 databases, crashed mid-run and recovered by another request", () => {
  it("runs to completion, its D1 step batch-co-committed with the log", async () => {
    expect((await call("/run?id=ok")).body).toEqual({ status: "completed" });
    expect((await call("/state?id=ok", "GET")).body).toEqual({
      order: 1,
      entry: "confirmed",
      status: "completed",
      steps: [
        "debit:intent",
        "debit:committed:execute",
        "place:committed:co_commit",
        "confirm:intent",
        "confirm:committed:execute",
      ],
    });
  });

  it("a request that dies before the pivot leaves a saga the next request compensates", async () => {
    expect((await call("/run?id=early&crash=place")).body).toEqual({ crashed: true });
    const crashed = (await call("/state?id=early", "GET")).body;
    expect(crashed).toMatchObject({ order: 0, entry: "held", status: "running" });
    const recovery = (await call("/recover")).body;
    expect(recovery.sagas).toContainEqual({ sagaId: "saga-early", outcome: "compensated" });
    expect((await call("/state?id=early", "GET")).body).toMatchObject({
      order: 0,
      entry: "refunded",
      status: "compensated",
    });
  });

  it("a request that dies after the pivot leaves a saga the next request rolls forward", async () => {
    expect((await call("/run?id=late&crash=confirm")).body).toEqual({ crashed: true });
    expect((await call("/state?id=late", "GET")).body).toMatchObject({
      order: 1,
      entry: "held",
      status: "running",
    });
    const recovery = (await call("/recover")).body;
    expect(recovery.sagas).toContainEqual({ sagaId: "saga-late", outcome: "completed" });
    expect((await call("/state?id=late", "GET")).body).toMatchObject({
      order: 1,
      entry: "confirmed",
      status: "completed",
    });
    expect((await call("/recover")).body, "a second pass finds nothing left").toMatchObject({
      claimed: 0,
    });
  });
});
