/**
 * Takes docs/console.png: the lockstep console on the demo's log, in headless Chromium.
 *
 *   npm run demo -- --dir .lockstep-demo
 *   npx tsx --tsconfig tsconfig.json examples/demo/console-screenshot.ts [--dir .lockstep-demo] [--out docs/console.png]
 *
 * It starts `lockstep console` on the demo's `marketplace.db` on a free port, opens the saga with
 * the longest history (a takeover first, when one happened) and saves the page.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { DEMO_DIR } from "./world.js";

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: DEMO_DIR },
    out: { type: "string", default: "docs/console.png" },
  },
});
const log = `sqlite:${resolve(join(values.dir, "marketplace.db"))}`;
const cli = spawn(
  process.execPath,
  ["--import", "tsx", "src/cli/index.ts", "console", "--log", log, "--port", "0"],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const base = await new Promise<string>((found, failed) => {
  let printed = "";
  cli.stdout.on("data", (chunk: Buffer) => {
    printed += chunk.toString();
    const url = /on (http:\/\/[^\s]+) /.exec(printed)?.[1];
    if (url !== undefined) found(url);
  });
  cli.on("exit", (code) => failed(new Error(`lockstep console exited with ${code}: ${printed}`)));
});
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${base}/sagas?order=updated`);
  const ids = await page
    .locator('table[data-testid="sagas"] tbody tr td:first-child a')
    .allTextContents();
  let best = { id: ids[0] ?? "", score: -1 };
  for (const id of ids) {
    const svg = await (await fetch(`${base}/sagas/${id}/timeline.svg`)).text();
    const score =
      (svg.match(/data-kind="takeover"/g) ?? []).length * 100 +
      (svg.match(/data-kind="(attempt|compensation)"/g) ?? []).length;
    if (score > best.score) best = { id, score };
  }
  await page.goto(`${base}/sagas/${best.id}`);
  await page.screenshot({ path: values.out, fullPage: false });
  process.stdout.write(`Saved ${values.out}: saga ${best.id}.\n`);
} finally {
  await browser.close();
  cli.kill("SIGTERM");
}
