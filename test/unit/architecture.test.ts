import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  findCycles,
  type ImportEdge,
  type ImportGraph,
  parseImports,
  readImportGraph,
} from "../support/import-graph.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The house limit on a source file's length (STYLE.md: a file over ~400 lines is a sign to split). */
const MAX_LINES = 500;

/** A layer rule: files in `from` may not import anything in `forbidden` (folders under `src/`). */
interface LayerRule {
  readonly name: string;
  readonly from: readonly string[];
  readonly forbidden: readonly string[];
}

const OUTER_LAYERS = [
  "adapters",
  "testing",
  "recipes",
  "cli",
  "recovery",
  "observability",
  "console",
];

const LAYER_RULES: readonly LayerRule[] = [
  {
    name: "the core never imports an adapter, the testing kit, a recipe, the CLI, recovery or observability",
    from: ["core"],
    forbidden: OUTER_LAYERS,
  },
  {
    name: "the log never imports an adapter, the testing kit, a recipe, the CLI, recovery or observability",
    from: ["log"],
    forbidden: OUTER_LAYERS,
  },
  {
    name: "the log never imports the core (both stand on the model)",
    from: ["log"],
    forbidden: ["core"],
  },
  {
    name: "recipes use only the public API and the adapters, never the testing kit or the CLI",
    from: ["recipes"],
    forbidden: ["testing", "cli"],
  },
  {
    name: "the console never imports the CLI, an adapter or the testing kit: it works on any log it is given",
    from: ["console"],
    forbidden: ["cli", "adapters", "testing"],
  },
  {
    name: "adapters never import the testing kit",
    from: ["adapters"],
    forbidden: ["testing"],
  },
];

const inFolder = (file: string, folder: string) => file.startsWith(`src/${folder}/`);
const describeEdge = (edge: ImportEdge) => `${edge.from} imports ${edge.to} ("${edge.specifier}")`;

/** The edges a rule looks at (those leaving its folders) and the ones it forbids. */
function checkLayerRule(
  edges: readonly ImportEdge[],
  rule: LayerRule,
): { readonly examined: number; readonly violations: string[] } {
  const leaving = edges.filter((edge) => rule.from.some((folder) => inFolder(edge.from, folder)));
  const violations = leaving
    .filter((edge) => rule.forbidden.some((folder) => inFolder(edge.to, folder)))
    .map(describeEdge);
  return { examined: leaving.length, violations };
}

/** The edges leaving `src/model/` and the ones that land outside it. */
function checkGroundFloor(edges: readonly ImportEdge[]): {
  readonly examined: number;
  readonly violations: string[];
} {
  const leaving = edges.filter((edge) => inFolder(edge.from, "model"));
  const violations = leaving.filter((edge) => !inFolder(edge.to, "model")).map(describeEdge);
  return { examined: leaving.length, violations };
}

function adjacency(graph: ImportGraph): Map<string, string[]> {
  const next = new Map<string, string[]>(graph.files.map((file) => [file, []]));
  for (const edge of graph.edges) next.get(edge.from)?.push(edge.to);
  return next;
}

/**
 * A second, line-based reading of the sources, to check the parser against: every `.ts` file, and
 * every line that imports or re-exports from a relative path (the `from "./…"` line of a statement
 * that spans several lines, or a bare `import "./…"`), outside comments.
 */
function secondReading(dir: string): { files: number; relativeImports: number } {
  let files = 0;
  let relativeImports = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = secondReading(path);
      files += inner.files;
      relativeImports += inner.relativeImports;
    } else if (entry.name.endsWith(".ts")) {
      files++;
      relativeImports += readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
        .filter((line) => /\bfrom\s*["']\.\.?\/|^import\s+["']\.\.?\//.test(line)).length;
    }
  }
  return { files, relativeImports };
}

const graph = readImportGraph(ROOT, "src");

describe("the import graph of src/", () => {
  it("reads every source file and every relative import, each resolved to a file", () => {
    const second = secondReading(join(ROOT, "src"));
    console.log(
      `[architecture] ${graph.files.length} files, ${graph.edges.length} relative imports`,
    );
    // An empty or partial graph would let every rule below pass without checking anything.
    expect(graph.files.length, "files read").toBe(second.files);
    expect(graph.files.length).toBeGreaterThanOrEqual(150);
    expect(graph.edges.length, "relative imports found").toBe(second.relativeImports);
    expect(graph.edges.length).toBeGreaterThanOrEqual(600);
    expect(graph.unresolved.map(describeEdge), "imports that name no file").toEqual([]);
  });

  it("has no import loop", () => {
    const cycles = findCycles(adjacency(graph)).map((cycle) => cycle.join(" → "));
    expect(cycles, "import loops in src/ (each listed from its first file back to it)").toEqual([]);
  });

  it("keeps src/model/ a ground floor: its files import only each other", () => {
    const { examined, violations } = checkGroundFloor(graph.edges);
    if (existsSync(join(ROOT, "src/model"))) {
      const files = graph.files.filter((file) => inFolder(file, "model"));
      console.log(`[architecture] src/model: ${files.length} files, ${examined} relative imports`);
      expect(files.length, "the files of src/model/ the rule checked").toBeGreaterThan(0);
    }
    expect(violations, "imports that leave src/model/").toEqual([]);
  });

  for (const rule of LAYER_RULES) {
    it(rule.name, () => {
      const files = graph.files.filter((file) => rule.from.some((f) => inFolder(file, f)));
      const { examined, violations } = checkLayerRule(graph.edges, rule);
      expect(files.length, `the files of ${rule.from.join(", ")} the rule checked`).toBeGreaterThan(
        0,
      );
      expect(examined, "the imports the rule checked").toBeGreaterThan(0);
      expect(violations, `imports that break: ${rule.name}`).toEqual([]);
    });
  }

  it(`has no source file over ${MAX_LINES} lines`, () => {
    expect(graph.lines.size).toBe(graph.files.length);
    const long = [...graph.lines]
      .filter(([, lines]) => lines > MAX_LINES)
      .map(([file, lines]) => `${file}: ${lines} lines`);
    expect(long, `files over ${MAX_LINES} lines; split them by what changes together`).toEqual([]);
  });
});

describe("the checks themselves", () => {
  it("parse static imports and re-exports, and nothing inside a TSDoc example", () => {
    const text = [
      'import { a } from "./a.js";',
      'import type { B } from "../b.js";',
      "import {",
      "  c,",
      "  type D,",
      '} from "./c.js";',
      'import * as e from "./e.js";',
      'import "./side-effect.js";',
      'export { f } from "./f.js";',
      'export type { G } from "./g.js";',
      'export * from "./h.js";',
      'import { z } from "zod";',
      "/**",
      " * @example",
      " * ```ts",
      ' * import { notMine } from "./not-mine.js";',
      " * ```",
      " */",
      "export const i = 1;",
      'const j = "import { k } from \\"./k.js\\"";',
    ].join("\n");
    expect(parseImports(text)).toEqual([
      "./a.js",
      "../b.js",
      "./c.js",
      "./e.js",
      "./side-effect.js",
      "./f.js",
      "./g.js",
      "./h.js",
      "zod",
    ]);
  });

  it("find a planted loop and name its files, and find none in a graph without one", () => {
    const planted = new Map<string, string[]>([
      ["src/a.ts", ["src/b.ts", "src/d.ts"]],
      ["src/b.ts", ["src/c.ts"]],
      ["src/c.ts", ["src/a.ts", "src/d.ts"]],
      ["src/d.ts", ["src/e.ts"]],
      ["src/e.ts", []],
      ["src/self.ts", ["src/self.ts"]],
    ]);
    expect(findCycles(planted)).toEqual([
      ["src/a.ts", "src/b.ts", "src/c.ts", "src/a.ts"],
      ["src/self.ts", "src/self.ts"],
    ]);
    planted.set("src/c.ts", ["src/d.ts"]);
    planted.set("src/self.ts", []);
    expect(findCycles(planted)).toEqual([]);
  });

  it("find a planted layer violation and an import that leaves src/model/", () => {
    const edges: ImportEdge[] = [
      { from: "src/core/runner.ts", to: "src/adapters/sqlite/index.ts", specifier: "x" },
      { from: "src/core/runner.ts", to: "src/core/step.ts", specifier: "y" },
      { from: "src/model/status.ts", to: "src/core/step.ts", specifier: "z" },
      { from: "src/model/status.ts", to: "src/model/kinds.ts", specifier: "w" },
    ];
    expect(checkLayerRule(edges, LAYER_RULES[0] as LayerRule)).toEqual({
      examined: 2,
      violations: ['src/core/runner.ts imports src/adapters/sqlite/index.ts ("x")'],
    });
    expect(checkGroundFloor(edges)).toEqual({
      examined: 2,
      violations: ['src/model/status.ts imports src/core/step.ts ("z")'],
    });
  });
});
