import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENTRIES, exportedNames } from "./entry-exports.js";
import type { Example } from "./extract-examples.js";
import { generateExample, type Preambles } from "./generate-example.js";

/** What type-checking one example found. */
export interface ExampleCheck {
  readonly example: Example;
  /** The generated file, relative to the repository. */
  readonly file: string;
  /** Free names neither the preamble map nor any entry provides. */
  readonly missing: readonly string[];
  /** tsc's errors in the generated file. */
  readonly errors: readonly string[];
}

/**
 * Writes every example as a module under `dir` (inside the repository, so the tsconfig's
 * `lockstep/*` paths map its imports to the sources) and type-checks them all with one `tsc` run.
 */
export function checkExamples(
  root: string,
  dir: string,
  examples: readonly Example[],
  preambles: Preambles,
): ExampleCheck[] {
  const out = join(root, dir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, "tsconfig.json"),
    JSON.stringify(
      {
        extends: "../../../tsconfig.json",
        compilerOptions: { noEmit: true, noUnusedLocals: false },
        include: ["./*.ts"],
      },
      null,
      2,
    ),
  );
  const exports = new Map(Object.keys(ENTRIES).map((e) => [e, exportedNames(root, e)]));
  const generated = examples.map((example, i) => {
    const name =
      example.fileName ??
      `${String(i + 1).padStart(3, "0")}-${example.file.replace(/[^\w]+/g, "-")}.ts`;
    const { source, missing } = generateExample(example, exports, preambles);
    writeFileSync(join(out, name), source);
    return { example, file: join(dir, name), missing };
  });
  const tsc = spawnSync(
    process.execPath,
    [
      join(root, "node_modules/typescript/bin/tsc"),
      "-p",
      join(out, "tsconfig.json"),
      "--pretty",
      "false",
    ],
    { cwd: root, encoding: "utf8" },
  );
  const errors = new Map<string, string[]>();
  for (const line of `${tsc.stdout}\n${tsc.stderr}`.split("\n")) {
    const m = /^(.+?)\((\d+),\d+\): error (TS\d+: .*)$/.exec(line.trim());
    if (m === null) continue;
    const file = (m[1] as string).replace(/^\.\//, "");
    const list = errors.get(file) ?? [];
    list.push(`line ${m[2]}: ${m[3]}`);
    errors.set(file, list);
  }
  return generated.map((g) => ({ ...g, errors: errors.get(g.file) ?? [] }));
}
