import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** A command's result, failing loudly when it could not start. */
export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): SpawnSyncReturns<string> {
  const result = spawnSync(command, [...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error !== undefined) throw result.error;
  return result;
}

/** Throws with the command's output unless it exited 0. */
export function ok(result: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (result.status !== 0) {
    throw new Error(`${what} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** The package as it would be published, and a project that installed it. */
export interface PackedProject {
  /** The temporary folder holding everything below. */
  readonly base: string;
  /** The folder `npm pack` ran in: package.json, README, LICENSE and a fresh build in dist/. */
  readonly stage: string;
  /** The packed tarball. */
  readonly tarball: string;
  /** A temporary project with the tarball installed from it. */
  readonly project: string;
}

/**
 * Builds the package into a staging folder (never touching the repository's dist/), packs it with
 * `npm pack`, and installs the tarball into a fresh project. The install prefers the local npm cache
 * for the package's dependencies, so it needs no network when they are cached.
 */
export function packAndInstall(): PackedProject {
  const base = mkdtempSync(join(tmpdir(), "lockstep-package-"));
  const stage = join(base, "stage");
  mkdirSync(stage);
  ok(
    run(
      process.execPath,
      [join(ROOT, "node_modules/tsup/dist/cli-default.js"), "--out-dir", join(stage, "dist")],
      ROOT,
    ),
    "tsup",
  );
  for (const file of ["package.json", "README.md", "LICENSE"]) {
    copyFileSync(join(ROOT, file), join(stage, file));
  }
  ok(run("npm", ["pack", "--pack-destination", base, "--silent"], stage), "npm pack");
  const tarball = readdirSync(base).find((f) => f.endsWith(".tgz"));
  if (tarball === undefined) throw new Error(`npm pack left no tarball in ${base}.`);
  const project = join(base, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "lockstep-smoke", version: "1.0.0", private: true, type: "module" }),
  );
  ok(
    run(
      "npm",
      ["install", "--no-audit", "--no-fund", "--prefer-offline", join(base, tarball)],
      project,
    ),
    "npm install of the tarball",
  );
  return { base, stage, tarball: join(base, tarball), project };
}

/**
 * Makes a package the repository has installed (an optional peer, a dev tool) available to the
 * project by linking it, instead of downloading it again.
 */
export function linkFromRepository(project: string, name: string): void {
  const target = join(project, "node_modules", name);
  mkdirSync(join(target, ".."), { recursive: true });
  symlinkSync(join(ROOT, "node_modules", name), target, "dir");
}
