import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("the system clock", () => {
  it("keeps the process alive while a retry backs off, so the saga finishes", () => {
    const child = fileURLToPath(new URL("./fixtures/backoff-child.ts", import.meta.url));
    const run = spawnSync(process.execPath, ["--import", "tsx", child], {
      encoding: "utf8",
      timeout: 20_000,
    });
    // Exit code 13 is Node's "unsettled top-level await": the process ran out of work mid-saga.
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe("completed after 2 calls");
  });
});
