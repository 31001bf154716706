import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { D1Database } from "@cloudflare/workers-types";
import { afterAll, expect, it } from "vitest";
import { markdownExamples } from "../../docs/support/extract-examples.js";
import { testD1 } from "../d1/d1-test.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const dir = join(ROOT, "test/adapters/drizzle/.d1-guide");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Worker {
  fetch(request: Request, env: { DB: D1Database }): Promise<Response>;
}

/** The D1 Worker of docs/drizzle.md, as written, imported into this process. */
async function guideWorker(): Promise<Worker> {
  const example = markdownExamples(ROOT, "docs/drizzle.md").find(
    (e) => e.fileName === "drizzle-d1-worker.ts",
  );
  expect(example, "docs/drizzle.md must hold the D1 Worker").toBeDefined();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "drizzle-d1-worker.ts"), example?.code ?? "");
  return ((await import(join(dir, "drizzle-d1-worker.ts"))) as { default: Worker }).default;
}

it("the guide's D1 Worker places an order in one batch, and of two racing for the last item one wins", async () => {
  const worker = await guideWorker();
  const DB = (await testD1()) as unknown as D1Database;
  const order = async (id: string) =>
    (
      await worker.fetch(
        new Request("http://worker/", { method: "POST", body: JSON.stringify({ id, sku: "mug" }) }),
        { DB },
      )
    ).json();
  expect(await order("o-0")).not.toBe("completed"); // no stock table row yet: sold out
  await DB.prepare("INSERT INTO stock (sku, remaining) VALUES ('mug', 2)").run();
  expect(await order("o-1")).toBe("completed");
  const raced = await Promise.all([order("o-2"), order("o-3")]);
  expect(
    raced.filter((status) => status === "completed"),
    "one of two takes the last mug",
  ).toHaveLength(1);
  const left = await DB.prepare("SELECT remaining FROM stock WHERE sku = 'mug'").first();
  const placed = await DB.prepare("SELECT id FROM orders ORDER BY id").all();
  expect(left).toEqual({ remaining: 0 });
  expect(placed.results.map((r) => r.id)).toHaveLength(2);
});
