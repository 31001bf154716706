import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The runtimes of the matrix. */
export type Runtime = "node" | "bun" | "deno";

// Bundled into the matrix program (test/runtimes/.out/), this module is told the repository root.
const ROOT = process.env.LOCKSTEP_MATRIX_ROOT ?? fileURLToPath(new URL("../../", import.meta.url));

/** The command that runs the JavaScript program `file` on `runtime`. */
export function commandFor(runtime: Runtime, file: string, execPath?: string): string[] {
  const bin = (name: string) => execPath ?? join(ROOT, "node_modules/.bin", name);
  if (runtime === "node") return [execPath ?? process.execPath, file];
  if (runtime === "bun") return [bin("bun"), file];
  // nodeModulesDir "manual": Deno resolves npm packages from the repository's node_modules.
  return [bin("deno"), "run", "-A", "--config", join(ROOT, "test/runtimes/deno.json"), file];
}
