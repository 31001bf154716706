import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  linkFromRepository,
  ok,
  type PackedProject,
  packAndInstall,
  ROOT,
  run,
} from "./support/packed-project.js";

/** Every subpath of the package and one export each must have. */
const KNOWN_EXPORTS: Readonly<Record<string, string>> = {
  lockstep: "createRunner",
  "lockstep/testing": "createMemoryStore",
  "lockstep/memory": "createMemoryStore",
  "lockstep/sqlite": "openSqlite",
  "lockstep/bun-sqlite": "openSqlite",
  "lockstep/postgres": "postgresStore",
  "lockstep/d1": "d1Store",
  "lockstep/libsql": "libsqlStore",
  "lockstep/mysql": "mysqlStore",
  "lockstep/redis": "redisStore",
  "lockstep/http": "httpDocumentStore",
  "lockstep/http-api": "httpApiStore",
  "lockstep/drizzle": "drizzleStore",
  "lockstep/kysely": "kyselyStore",
  "lockstep/outbox": "createRelay",
  "lockstep/bounty": "bountySagas",
  "lockstep/contribution": "createContributions",
};

let packed: PackedProject;
const node = (args: readonly string[], env: Record<string, string> = {}) =>
  run(process.execPath, args, packed.project, env);
const cli = (args: readonly string[]) =>
  node([join(packed.project, "node_modules/.bin/lockstep"), ...args]);

beforeAll(() => {
  packed = packAndInstall();
  // The drivers are optional peers, so npm did not install them; link the repository's.
  for (const peer of [
    "better-sqlite3",
    "pg",
    "ioredis",
    "mysql2",
    "drizzle-orm",
    "kysely",
    "@libsql/client",
  ])
    linkFromRepository(packed.project, peer);
}, 600_000);

afterAll(() => {
  if (packed !== undefined) rmSync(packed.base, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("has an export map entry for each of the 17 subpaths checked here", () => {
    const manifest = JSON.parse(
      readFileSync(join(packed.project, "node_modules/lockstep/package.json"), "utf8"),
    ) as { exports: Record<string, unknown>; bin: Record<string, string> };
    const subpaths = Object.keys(manifest.exports)
      .filter((k) => k !== "./package.json")
      .map((k) => (k === "." ? "lockstep" : `lockstep/${k.slice(2)}`));
    expect(subpaths.sort()).toEqual(Object.keys(KNOWN_EXPORTS).sort());
    expect(manifest.bin).toEqual({ lockstep: "./dist/cli/index.js" });
  });

  it("can be imported from ESM at every subpath", () => {
    const script = join(packed.project, "check-esm.mjs");
    writeFileSync(
      script,
      `const expected = ${JSON.stringify(KNOWN_EXPORTS)};
const found = {};
for (const [spec, name] of Object.entries(expected)) found[spec] = typeof (await import(spec))[name];
console.log(JSON.stringify(found));`,
    );
    const result = ok(node([script]), "the ESM import check");
    const found = JSON.parse(result.stdout) as Record<string, string>;
    expect(Object.keys(found)).toHaveLength(17);
    for (const spec of Object.keys(KNOWN_EXPORTS)) expect(found[spec], spec).toBe("function");
  });

  it("can be required from CommonJS at every subpath", () => {
    const script = join(packed.project, "check-cjs.cjs");
    writeFileSync(
      script,
      `const expected = ${JSON.stringify(KNOWN_EXPORTS)};
const found = {};
for (const [spec, name] of Object.entries(expected)) found[spec] = typeof require(spec)[name];
console.log(JSON.stringify(found));`,
    );
    const result = ok(node([script]), "the CommonJS require check");
    const found = JSON.parse(result.stdout) as Record<string, string>;
    expect(Object.keys(found)).toHaveLength(17);
    for (const spec of Object.keys(KNOWN_EXPORTS)) expect(found[spec], spec).toBe("function");
  });

  it("serves the same memory store from lockstep/memory and lockstep/testing", () => {
    const script = join(packed.project, "check-memory.mjs");
    writeFileSync(
      script,
      `import { createRequire } from "node:module";
import { createMemoryStore as esmMemory } from "lockstep/memory";
import { createMemoryStore as esmTesting } from "lockstep/testing";
const require = createRequire(import.meta.url);
const cjsMemory = require("lockstep/memory").createMemoryStore;
const cjsTesting = require("lockstep/testing").createMemoryStore;
console.log(JSON.stringify([esmMemory === esmTesting, cjsMemory === cjsTesting]));`,
    );
    const result = ok(node([script]), "the memory store check");
    // Two copies would mean the testing kit bundled its own store instead of re-exporting the adapter.
    expect(JSON.parse(result.stdout)).toEqual([true, true]);
  });

  it("recognizes its errors across the ESM and CommonJS copies", () => {
    const script = join(packed.project, "check-brands.mjs");
    writeFileSync(
      script,
      `import { createRequire } from "node:module";
import { LockstepDefinitionError as Esm } from "lockstep";
const { LockstepDefinitionError: Cjs } = createRequire(import.meta.url)("lockstep");
console.log(JSON.stringify([Esm === Cjs, Cjs.is(new Esm("x")), Esm.is(new Cjs("y"))]));`,
    );
    const result = ok(node([script]), "the brand check");
    expect(JSON.parse(result.stdout)).toEqual([false, true, true]);
  });

  it("passes publint --strict and are-the-types-wrong with the bin entry", () => {
    const publint = run(
      process.execPath,
      [join(ROOT, "node_modules/publint/src/cli.js"), "run", packed.stage, "--strict"],
      ROOT,
    );
    expect(publint.status, `${publint.stdout}${publint.stderr}`).toBe(0);
    const attw = run(
      process.execPath,
      [
        join(ROOT, "node_modules/@arethetypeswrong/cli/dist/index.js"),
        packed.tarball,
        "--profile",
        "node16",
        "--format",
        "table-flipped",
      ],
      ROOT,
    );
    expect(attw.status, `${attw.stdout}${attw.stderr}`).toBe(0);
  });
});

describe("the installed lockstep command", () => {
  beforeAll(() => {
    // A saga log written through the installed package, for the command to read.
    const script = join(packed.project, "make-log.mjs");
    writeFileSync(
      script,
      `import { z } from "zod";
import { createRunner, defineSaga, committed } from "lockstep";
import { openSqlite, sqliteSagaLog, sqliteStore } from "lockstep/sqlite";
const db = openSqlite("app.db");
const store = sqliteStore(db);
await store.handle.run("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY)");
const note = defineSaga("note", { input: z.object({ id: z.string() }) })
  .step("write", { store, kind: "pivot", output: z.object({ id: z.string() }),
    execute: async ({ input, handle }) => { await handle.run("INSERT INTO notes (id) VALUES (?)", [input.id]); return { id: input.id }; },
    probe: async ({ input }) => committed({ id: input.id }) })
  .build();
const result = await createRunner({ log: sqliteSagaLog(db) }).run(note, { id: "n-1" });
db.close();
console.log(result.isOk() ? result.value.status : result.error.message);`,
    );
    const made = ok(node([script]), "writing a saga log with the installed package");
    expect(made.stdout.trim()).toBe("completed");
  });

  it("prints its help", () => {
    const help = cli(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: lockstep <command>");
  });

  it("lists the sagas of a SQLite log", () => {
    const list = cli(["sagas", "list", "--log", "sqlite:app.db", "--json"]);
    expect(list.status, list.stderr).toBe(0);
    const out = JSON.parse(list.stdout) as { count: number; sagas: { status: string }[] };
    expect(out.count).toBe(1);
    expect(out.sagas[0]?.status).toBe("completed");
  });

  const config = `import { z } from "zod";
import { committed, defineSaga } from "lockstep";
import { openSqlite, sqliteSagaLog, sqliteStore } from "lockstep/sqlite";
const db = openSqlite("app.db", { fileMustExist: true });
const store = sqliteStore(db);
const output: z.ZodObject<{ id: z.ZodString }> = z.object({ id: z.string() });
export const sagas = [
  defineSaga("note", { input: z.object({ id: z.string() }) })
    .step("write", { store, kind: "pivot", output, execute: ({ input }) => ({ id: input.id }), probe: ({ input }) => committed({ id: input.id }) })
    .build(),
];
export const log = sqliteSagaLog(db);
export const close = (): void => db.close();
`;

  it("says to compile a TypeScript config module, or install tsx, when tsx is not installed", () => {
    writeFileSync(join(packed.project, "lockstep.config.ts"), config);
    const explain = cli(["explain", "--config", "lockstep.config.ts"]);
    expect(explain.status).toBe(3);
    expect(explain.stderr).toContain(
      "is TypeScript, and tsx, which the CLI uses to import it, could not be loaded",
    );
    expect(explain.stderr).toContain("install tsx");
  });

  it("loads a TypeScript config module through the project's tsx", () => {
    linkFromRepository(packed.project, "tsx");
    const explain = cli(["explain", "--config", "lockstep.config.ts"]);
    expect(explain.status, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(/write\s+pivot\s+sqlite:\S+app\.db\s+co-committed\s+none/);
  });

  it("runs the README quickstart as written against the installed package", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const code = /```ts\n([\s\S]*?)```/.exec(readme.split(/^## Quickstart$/m)[1] ?? "")?.[1];
    expect(code).toBeDefined();
    writeFileSync(join(packed.project, "quickstart.ts"), code as string);
    const result = node(["--import", "tsx", "quickstart.ts"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("completed\n");
  });
});

describe("the packed type declarations, for a project without fast-check", () => {
  // fast-check is an optional peer: a project that never installed it must still type-check
  // against lockstep/testing, with skipLibCheck off so the package's own declarations are checked.
  const consumer = `import { createRunner, defineSaga } from "lockstep";
import { createMemoryStore } from "lockstep/memory";
import { type FaultPlan, NO_FAULTS, randomFaultPlan, simulate, VirtualClock } from "lockstep/testing";

export const plan: FaultPlan = randomFaultPlan(7, { site: "log.*" });
export const none: FaultPlan = NO_FAULTS;
export const clock: VirtualClock = new VirtualClock();
export const store = createMemoryStore({ tier: "plain" });
export const pieces = [createRunner, defineSaga, simulate] as const;
`;

  function typeCheck(file: string, module: "esm" | "cjs") {
    const folder = join(packed.project, `types-${module}`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, file), consumer);
    writeFileSync(
      join(folder, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: [file],
      }),
    );
    return node([join(ROOT, "node_modules/typescript/bin/tsc"), "-p", folder]);
  }

  beforeAll(() => {
    linkFromRepository(packed.project, "typescript");
    linkFromRepository(packed.project, "@types/node");
  });

  it("cannot resolve fast-check from the project", () => {
    const resolve = node(["-e", 'require.resolve("fast-check")']);
    expect(resolve.status).not.toBe(0);
    expect(resolve.stderr).toContain("Cannot find module 'fast-check'");
  });

  // tsc checks every declaration file of the package and of Node: slow on a loaded machine.
  const TYPE_CHECK_MS = 180_000;

  it(
    "type-checks an ES module that imports lockstep/testing",
    () => {
      const check = typeCheck("consumer.mts", "esm");
      expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    },
    TYPE_CHECK_MS,
  );

  it(
    "type-checks a CommonJS module that imports lockstep/testing",
    () => {
      const check = typeCheck("consumer.cts", "cjs");
      expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
    },
    TYPE_CHECK_MS,
  );
});
