import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-code.js";
import { runCli, startCli } from "../cli/support/run-cli.js";
import { seedConsoleLog } from "./support/seed-console-log.js";

let dir: string;
let log: string;
let guardFailed: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lockstep-console-cli-"));
  const seed = await seedConsoleLog(dir);
  guardFailed = seed.ids.guardFailed;
  seed.close();
  log = `sqlite:${join(dir, "console.db")}`;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent("lockstep console", () => {
  it("serves the log on 127.0.0.1 with actions on by the environment's token, and stops on SIGTERM", async () => {
    const cli = startCli(["console", "--log", log, "--port", "0"], {
      LOCKSTEP_CONSOLE_TOKEN: "token-from-the-env",
    });
    try {
      await cli.waitFor("Stop with SIGTERM");
      const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(cli.stdout())?.[1];
      expect(url, cli.stdout()).toBeDefined();
      expect(cli.stdout()).toContain("actions on (token required)");
      const page = await fetch(`${url}/sagas/${guardFailed}`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("&lt;script&gt;");
      const refused = await fetch(`${url}/actions/retry`, {
        method: "POST",
        body: new URLSearchParams({ saga: guardFailed, confirm: "yes", token: "not-the-token" }),
      });
      expect(refused.status).toBe(403);
    } finally {
      cli.child.kill("SIGTERM");
    }
    const run = await cli.exited;
    expect(run.code, run.stderr).toBe(ExitCode.Ok);
    expect(run.stdout).toContain("Console stopped.");
  });

  it("fails clearly when the log does not open, serving nothing", async () => {
    const missing = await runCli([
      "console",
      "--log",
      `sqlite:${join(dir, "absent.db")}`,
      "--port",
      "0",
    ]);
    expect(missing.code).toBe(ExitCode.Failure);
    expect(missing.stderr).toContain("There is no SQLite database at");
    expect(missing.stdout).not.toContain("lockstep console on");
    const bad = await runCli(["console", "--log", "mongodb://nowhere", "--port", "0"]);
    expect(bad.code).toBe(ExitCode.Usage);
    expect(bad.stderr).toContain(
      'Expected --log to be sqlite:<path>, postgres:<url> or mysql:<url>, got "mongodb://nowhere".',
    );
  });

  it("fails clearly when the port is in use", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const run = await runCli(["console", "--log", log, "--port", String(port)]);
      expect(run.code).toBe(ExitCode.Failure);
      expect(run.stderr).toContain(
        `Port ${port} on 127.0.0.1 is in use; pick another with --port.`,
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
