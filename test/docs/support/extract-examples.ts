import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

/** One ```ts example, from a TSDoc comment or a Markdown file. */
export interface Example {
  /** `<file>:<line>`, the line of the code fence, relative to the repository. */
  readonly id: string;
  /** The file it came from, relative to the repository. */
  readonly file: string;
  /** Its code, without the comment's leading `*`. */
  readonly code: string;
  /**
   * The file name a Markdown example says it is (`<!-- file: kv-store.ts -->` on the line before
   * its fence), so that other examples can import it.
   */
  readonly fileName?: string;
}

const FENCE = /```(?:ts|typescript)\n([\s\S]*?)```/g;

/** Every ```ts example in the TSDoc comments of the `.ts` files under `dir`. */
export function tsdocExamples(root: string, dir: string): Example[] {
  const examples: Example[] = [];
  for (const file of walk(join(root, dir))) {
    const text = readFileSync(file, "utf8");
    for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
      const body = comment[1] ?? "";
      const start = comment.index ?? 0;
      for (const fence of body.matchAll(FENCE)) {
        const line = lineOf(text, start + 3 + (fence.index ?? 0));
        const code = (fence[1] ?? "")
          .split("\n")
          .map((l) => l.replace(/^\s*\* ?/, ""))
          .join("\n")
          .trim();
        const rel = relative(root, file);
        examples.push({ id: `${rel}:${line}`, file: rel, code });
      }
    }
  }
  return examples;
}

/** Every ```ts block of a Markdown file. */
export function markdownExamples(root: string, file: string): Example[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(FENCE)].map((fence) => {
    const before =
      text
        .slice(0, fence.index ?? 0)
        .trimEnd()
        .split("\n")
        .pop() ?? "";
    const fileName = /^<!-- file: ([\w.-]+\.ts) -->$/.exec(before.trim())?.[1];
    return {
      id: `${file}:${lineOf(text, fence.index ?? 0)}`,
      file,
      code: (fence[1] ?? "").trim(),
      ...(fileName === undefined ? {} : { fileName }),
    };
  });
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

function walk(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...walk(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files;
}
