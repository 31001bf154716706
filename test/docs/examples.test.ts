import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { checkExamples, type ExampleCheck } from "./support/check-examples.js";
import { type Example, markdownExamples, tsdocExamples } from "./support/extract-examples.js";
import { PREAMBLES } from "./support/preambles.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MARKDOWN = [
  "README.md",
  "docs/concepts.md",
  "docs/adapters.md",
  "docs/operations.md",
  "docs/drizzle.md",
  "docs/kysely.md",
  "docs/outbox.md",
];

/**
 * Examples that do not type-check as written, in files this suite does not own, each with the
 * error it must still show and the fix. The suite fails when one of them starts to type-check, so
 * the entry is removed with the fix, and it fails when any other example breaks.
 */
const KNOWN_BROKEN: Readonly<Record<string, { readonly error: string; readonly fix: string }>> = {};

const examples: Example[] = [
  ...tsdocExamples(ROOT, "src"),
  ...MARKDOWN.flatMap((file) => markdownExamples(ROOT, file)),
];
let checks: Map<string, ExampleCheck>;

beforeAll(() => {
  const results = checkExamples(ROOT, "test/docs/.generated", examples, PREAMBLES);
  checks = new Map(results.map((c) => [c.example.id, c]));
}, 120_000);

/** Counts ```ts fences inside TSDoc comments by a second, line-based reading of the sources. */
function countTsdocFences(dir: string): number {
  let count = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) count += countTsdocFences(path);
    else if (entry.name.endsWith(".ts")) {
      count += readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => /^\s*\*\s*```(?:ts|typescript)\s*$/.test(line)).length;
    }
  }
  return count;
}

describe("documentation examples type-check against the sources", () => {
  it("finds every ```ts example: in TSDoc, the README and the guides", () => {
    const fromSources = examples.filter((e) => e.file.startsWith("src/"));
    expect(fromSources.length).toBe(countTsdocFences(join(ROOT, "src")));
    expect(fromSources.length).toBeGreaterThanOrEqual(90);
    for (const file of MARKDOWN) {
      expect(
        examples.some((e) => e.file === file),
        `${file} has no ts example`,
      ).toBe(true);
    }
    for (const id of Object.keys(KNOWN_BROKEN)) {
      expect(checks.has(id), `${id} is listed as broken but is no longer an example`).toBe(true);
    }
  });

  for (const example of examples) {
    const broken = KNOWN_BROKEN[example.id];
    it(`${example.id}${broken === undefined ? "" : " (known broken)"}`, () => {
      const check = checks.get(example.id) as ExampleCheck;
      const where = `${check.file} (${relative(ROOT, join(ROOT, check.file))})`;
      if (broken !== undefined) {
        expect(
          check.errors.some((e) => e.includes(broken.error)),
          `${example.id} type-checks now; remove it from KNOWN_BROKEN`,
        ).toBe(true);
        return;
      }
      expect(
        check.errors,
        `${example.id} does not type-check; see ${where}${check.missing.length > 0 ? `; names nothing provides: ${check.missing.join(", ")}` : ""}`,
      ).toEqual([]);
    });
  }
});
