import { ENTRIES, entryOf } from "./entry-exports.js";
import type { Example } from "./extract-examples.js";

/** Third-party names examples use without importing them, and where they come from. */
const THIRD_PARTY: Readonly<Record<string, string>> = {
  z: 'import { z } from "zod";',
  fc: 'import fc from "fast-check";',
  expect: 'import { expect } from "vitest";',
  Pool: 'import { Pool } from "pg";',
  Redis: 'import { Redis } from "ioredis";',
  pino: 'import { pino } from "pino";',
  trace: 'import { trace } from "@opentelemetry/api";',
};

/**
 * The free variables an example may use, by name: each becomes `declare const <name>: <type>;` in
 * the example's preamble (a value ending in `;` is used as the whole declaration). Folder-specific
 * entries win over the global ones.
 */
export type Preambles = Readonly<Record<string, Readonly<Record<string, string>>>>;

const KEYWORDS = new Set(
  "abstract as async await boolean break case catch class const continue declare default delete do else enum export extends false finally for from function if import in instanceof interface let new null number of package private protected public readonly return satisfies static string super switch this throw true try type typeof undefined unknown var void while with yield never any object symbol bigint keyof infer is asserts out".split(
    " ",
  ),
);

/** The identifiers an example uses: not property names, not inside strings or comments. */
function usedNames(code: string): Set<string> {
  const stripped = code
    // A spread (`...scenario`) uses the name after it.
    .replace(/\.\.\./g, " ")
    // Object keys (`{ tier: "plain" }`) are not variables.
    .replace(/(?<=[{,]\s*)[A-Za-z_$][\w$]*(?=\s*:(?!:))/g, " ")
    .replace(/\/\/.*$/gm, "")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/`(?:[^`\\]|\\.)*`/g, (t) => t.replace(/[^${}\w]|\$\{|\}/g, " "))
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![.\w$])[A-Za-z_$][\w$]*/g)) {
    if (!KEYWORDS.has(m[0])) names.add(m[0]);
  }
  return names;
}

/** The names an example declares itself: bindings, functions, classes, parameters, imports. */
function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  const add = (list: string) => {
    for (const part of list.split(",")) {
      const name = part
        .split(":")
        .pop()
        ?.split("=")[0]
        ?.replace(/\.\.\./, "")
        .trim();
      if (name && /^[A-Za-z_$][\w$]*$/.test(name)) names.add(name);
    }
  };
  for (const m of code.matchAll(/\b(?:const|let|var|function|class)\s+([A-Za-z_$][\w$]*)/g)) {
    names.add(m[1] as string);
  }
  for (const m of code.matchAll(/\b(?:const|let|var)\s+\{([^}]*)\}/g)) add(m[1] as string);
  for (const m of code.matchAll(/\b(?:const|let|var)\s+\[([^\]]*)\]/g)) add(m[1] as string);
  for (const m of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g)) add(m[1] as string);
  for (const m of code.matchAll(/import\s+(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)\s+from/g)) {
    names.add(m[1] as string);
  }
  // Parameters of arrow functions and callbacks: `(a, { b }) =>` and `a =>`.
  for (const m of code.matchAll(/\(([^()]*)\)\s*(?::[^=]*)?=>/g)) {
    add((m[1] as string).replace(/[{}[\]]/g, ","));
  }
  for (const m of code.matchAll(/(?<![.\w$])([A-Za-z_$][\w$]*)\s*=>/g)) names.add(m[1] as string);
  return names;
}

/**
 * The TypeScript module an example becomes: its free variables declared from the preamble map,
 * the public names it uses imported from their `lockstep/*` entry (the tsconfig maps those to the
 * sources), then the example as written.
 */
export function generateExample(
  example: Example,
  exports: ReadonlyMap<string, ReadonlyMap<string, boolean>>,
  preambles: Preambles,
): { readonly source: string; readonly missing: readonly string[] } {
  const declared = declaredNames(example.code);
  const folder = Object.keys(preambles)
    .filter((prefix) => prefix !== "*" && example.file.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  const lookup = (name: string): string | undefined => {
    for (const prefix of folder) {
      const found = preambles[prefix]?.[name];
      if (found !== undefined) return found;
    }
    return preambles["*"]?.[name];
  };
  const declarations: string[] = [];
  const pending = [...usedNames(example.code)];
  const seen = new Set<string>();
  const imports = new Map<string, Map<string, boolean>>();
  const thirdParty = new Set<string>();
  const missing: string[] = [];
  const own = entryOf(example.file);
  const order = [own, "lockstep", ...Object.keys(ENTRIES)];
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (seen.has(name) || declared.has(name)) continue;
    seen.add(name);
    const declaration = lookup(name);
    if (declaration !== undefined) {
      const line = declaration.trimEnd().endsWith(";")
        ? declaration
        : `declare const ${name}: ${declaration};`;
      declarations.push(line);
      pending.push(...usedNames(line.replace(/^declare const \w+/, "")));
      continue;
    }
    const entry = order.find((e) => exports.get(e)?.has(name));
    if (entry !== undefined) {
      const names = imports.get(entry) ?? new Map<string, boolean>();
      names.set(name, exports.get(entry)?.get(name) === true);
      imports.set(entry, names);
      continue;
    }
    const third = THIRD_PARTY[name];
    if (third !== undefined) {
      thirdParty.add(third);
      continue;
    }
    if (!(name in globalThis)) missing.push(name);
  }
  const importLines = [...imports].map(([entry, names]) => {
    const list = [...names]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, isType]) => (isType ? `type ${name}` : name));
    return `import { ${list.join(", ")} } from "${entry}";`;
  });
  // A fragment of a function body (it returns) is checked inside a function.
  const body = /^(?:if\b.*\b)?return\b/m.test(example.code)
    ? `export async function fragment() {\n${example.code}\n}`
    : example.code;
  const source = [
    `// ${example.id}`,
    ...thirdParty,
    ...importLines,
    ...declarations,
    "export {};",
    "",
    body,
    "",
  ].join("\n");
  return { source, missing };
}
