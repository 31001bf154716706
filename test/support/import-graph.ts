import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";

/** One relative import of a source file, resolved to the file it names (paths relative to the root). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly specifier: string;
}

/** The relative imports of every `.ts` file under a folder. */
export interface ImportGraph {
  /** Every file read, relative to the root, with `/` separators, sorted. */
  readonly files: readonly string[];
  /** Each file's line count. */
  readonly lines: ReadonlyMap<string, number>;
  /** Every relative import that resolved to a file. */
  readonly edges: readonly ImportEdge[];
  /** Relative imports that named no file: the graph would be missing an edge, so callers fail on them. */
  readonly unresolved: readonly ImportEdge[];
}

/**
 * Static `import … from "…"`, `export … from "…"` and bare `import "…"` at the start of a line. The
 * clause between the keyword and `from` may only hold names, braces, commas, `*` and whitespace, so
 * a match never runs across two statements, and the `import` lines of TSDoc examples (which start
 * with ` * `) and of code inside template strings (indented, but never a bare statement start
 * followed by a clause and `from`) are not mistaken for the file's own imports.
 */
const IMPORT = /^(?:import|export)\s+(?:[\w$\s{},*]+?\s+from\s*)?["']([^"'\n]+)["']/gm;

/** The module specifiers a source text imports or re-exports statically, in order. */
export function parseImports(text: string): string[] {
  return [...text.matchAll(IMPORT)].map((match) => match[1] as string);
}

/** The number of lines of a text, as `wc -l` counts them for a file ending in a newline. */
export function countLines(text: string): number {
  if (text.length === 0) return 0;
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}

function listTsFiles(root: string, dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listTsFiles(root, path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

/** The file a relative specifier names: `./x.js` is `./x.ts`, a folder is its `index.ts`. */
function resolveSpecifier(root: string, from: string, specifier: string): string | undefined {
  const base = posix.join(posix.dirname(from), specifier);
  const candidates = [
    base.replace(/\.js$/, ".ts"),
    base,
    `${base}.ts`,
    posix.join(base, "index.ts"),
  ];
  return candidates.find(
    (candidate) => candidate.endsWith(".ts") && existsSync(join(root, candidate)),
  );
}

/** Reads every `.ts` file under `dir` (relative to `root`) and resolves its relative imports. */
export function readImportGraph(root: string, dir: string): ImportGraph {
  const files = listTsFiles(root, dir).sort();
  const lines = new Map<string, number>();
  const edges: ImportEdge[] = [];
  const unresolved: ImportEdge[] = [];
  for (const from of files) {
    const text = readFileSync(join(root, from), "utf8");
    lines.set(from, countLines(text));
    for (const specifier of parseImports(text)) {
      if (!specifier.startsWith(".")) continue;
      const to = resolveSpecifier(root, from, specifier);
      if (to === undefined) unresolved.push({ from, to: specifier, specifier });
      else edges.push({ from, to, specifier });
    }
  }
  return { files, lines, edges, unresolved };
}

/**
 * Every import loop of a graph, one per strongly connected component (Tarjan's algorithm), each
 * given as a concrete path that starts and ends at the same file, e.g. `[a, b, a]`. A file that
 * imports itself is a loop of one.
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;

  // Iterative, so a long import chain cannot overflow the call stack.
  const visit = (start: string) => {
    const work: { node: string; children: readonly string[]; at: number }[] = [];
    const enter = (node: string) => {
      index.set(node, next);
      low.set(node, next);
      next++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, children: graph.get(node) ?? [], at: 0 });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as (typeof work)[number];
      if (frame.at < frame.children.length) {
        const child = frame.children[frame.at++] as string;
        if (!index.has(child)) enter(child);
        else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(child) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        low.set(
          parent.node,
          Math.min(low.get(parent.node) as number, low.get(frame.node) as number),
        );
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  };

  const nodes = new Set<string>(graph.keys());
  for (const children of graph.values()) for (const child of children) nodes.add(child);
  for (const node of [...nodes].sort()) if (!index.has(node)) visit(node);

  const cycles: string[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const first = [...component].sort()[0] as string;
    if (component.length === 1 && !(graph.get(first) ?? []).includes(first)) continue;
    cycles.push(pathBack(graph, first, members));
  }
  return cycles.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

/** The shortest path from `start` back to itself inside one strongly connected component. */
function pathBack(
  graph: ReadonlyMap<string, readonly string[]>,
  start: string,
  members: ReadonlySet<string>,
): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const child of [...(graph.get(node) ?? [])].sort()) {
      if (!members.has(child)) continue;
      if (child === start) {
        const inner: string[] = [];
        for (let at = node; at !== start; at = previous.get(at) as string) inner.unshift(at);
        return [start, ...inner, start];
      }
      if (!previous.has(child)) {
        previous.set(child, node);
        queue.push(child);
      }
    }
  }
  // Unreachable for a component findCycles reports: every member lies on a loop through start.
  return [start, start];
}
