import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, type TestDatabase } from "../adapters/mysql/mysql-test.js";
import { markdownExamples } from "./support/extract-examples.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const base = join(ROOT, "test/docs/.mysql-example");
const opened: TestDatabase[] = [];

afterAll(async () => {
  rmSync(base, { recursive: true, force: true });
  for (const db of opened) await db.close();
});

describe("the MySQL example of the adapters guide", () => {
  it("runs as written against MariaDB, and leaves what it says", async () => {
    const example = markdownExamples(ROOT, "docs/adapters.md").find(
      (e) => e.fileName === "order.ts",
    );
    expect(example?.code).toContain('from "lockstep/mysql"');
    const shop = await openDatabase();
    const payments = await openDatabase();
    opened.push(shop, payments);
    mkdirSync(base, { recursive: true });
    // Inside the repository, so that `lockstep/*`, mysql2 and zod resolve as they do for the docs.
    const dir = mkdtempSync(join(base, "mysql-"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "order.ts"), example?.code ?? "");
    const run = spawnSync(process.execPath, ["--import", "tsx", "order.ts"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, SHOP_DB: shop.name, PAYMENTS_DB: payments.name },
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toBe("completed\n");
    const [orders] = await shop.admin.query(`SELECT id, status FROM \`${shop.name}\`.orders`);
    expect(orders).toEqual([{ id: "o-1", status: "confirmed" }]);
    const [charges] = await payments.admin.query(
      `SELECT order_id, amount FROM \`${payments.name}\`.charges`,
    );
    expect(charges).toEqual([{ order_id: "o-1", amount: 25 }]);
    const [sagas] = await shop.admin.query(
      `SELECT name, status FROM \`${shop.name}\`.lockstep_sagas`,
    );
    expect(sagas).toEqual([{ name: "order", status: "completed" }]);
  });
});
