import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The first ```ts block under the README's "## Quickstart" heading, exactly as written. */
function quickstart(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## Quickstart$/m)[1];
  const code = section === undefined ? undefined : /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error("README.md has no ```ts block under ## Quickstart.");
  return code;
}

describe("the README quickstart", () => {
  it("stays under 25 lines", () => {
    const lines = quickstart().trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.length).toBeLessThan(25);
  });

  it("runs as written and completes its saga", () => {
    const dir = join(ROOT, "test/docs/.quickstart");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "quickstart.ts");
    writeFileSync(file, quickstart());
    // tsx resolves `lockstep` and `lockstep/testing` to the sources through tsconfig.json's paths.
    const run = spawnSync(process.execPath, ["--import", "tsx", file], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe("completed\n");
  });

  it("is safe against a delete and re-create between its step and the step's compensation", () => {
    const dir = join(ROOT, "test/docs/.quickstart");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "quickstart-race.ts");
    // The quickstart as written, then a second order whose hold another writer deletes and creates
    // anew while the pivot is being refused: the hold's guarded undo must leave that writer's hold.
    writeFileSync(
      file,
      `${quickstart()}
import { StoreError } from "lockstep";
let replaced = 0;
orders.faults = async (point) => {
  if (point.phase !== "before" || point.write.key !== "order:o-2") return;
  if (replaced++ === 0) {
    await funds.handle.delete("hold:o-2");
    await funds.handle.put("hold:o-2", 99, "absent");
  }
  throw new StoreError("not_committed", "orders refused the order");
};
const raced = await createRunner().run(order, { id: "o-2", amount: 5 });
console.log(raced.isOk() ? raced.value.status : raced.error.report.status);
console.log(JSON.stringify((await funds.handle.get("hold:o-2"))?.value ?? null));
`,
    );
    const run = spawnSync(process.execPath, ["--import", "tsx", file], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const [first, raced, hold] = run.stdout.trimEnd().split("\n");
    expect(first).toBe("completed");
    expect(raced, "the refused undo must stop the saga for a person").toBe("needs_attention");
    expect(hold, "the other writer's hold must survive the compensation (ABA)").toBe("99");
  });
});
