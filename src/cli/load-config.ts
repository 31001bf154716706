import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Saga } from "../core/saga.js";
import type { Store } from "../core/store.js";
import type { SagaLog } from "../log/saga-log.js";
import { CliFailure, messageOf, UsageError } from "./cli-error.js";

/**
 * What a `--config` module exports, as named exports or as its default export (an object, or a
 * function, possibly async, returning one):
 *
 * - `sagas` — the saga definitions, an array or an object of them (`bountySagas(ports)` fits);
 * - `stores` — optional, the stores they write to (shown by `explain`);
 * - `log` — optional, the saga log, used when `--log` is not given (and needed for co-commit when
 *   the log shares a database with the stores);
 * - `close` — optional, called when the command is done.
 */
export interface LockstepConfig {
  // biome-ignore lint/suspicious/noExplicitAny: sagas of every input and output type.
  readonly sagas: readonly Saga<any, any>[];
  // biome-ignore lint/suspicious/noExplicitAny: stores of every handle type.
  readonly stores: readonly Store<any, any, any>[];
  readonly log: SagaLog | undefined;
  readonly close: (() => unknown) | undefined;
}

const TYPESCRIPT = new Set([".ts", ".mts", ".cts"]);

/** Imports and checks a config module; a `.ts` module is loaded through `tsx` when it is installed. */
export async function loadConfig(path: string, command: string): Promise<LockstepConfig> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new UsageError(
      `The config module "${file}" (from --config ${path}) does not exist.`,
      command,
    );
  }
  if (TYPESCRIPT.has(extname(file))) await enableTypeScript(file);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new CliFailure(`The config module "${file}" failed to load: ${messageOf(error)}`, {
      cause: error,
    });
  }
  let exported: unknown = "sagas" in module ? module : (module.default ?? module);
  // A CommonJS module imported from ESM puts its exports on `default`.
  if (typeof exported === "object" && exported !== null && !("sagas" in exported)) {
    const inner = (exported as Record<string, unknown>).default;
    if (inner !== undefined) exported = inner;
  }
  if (typeof exported === "function") {
    try {
      exported = await (exported as () => unknown)();
    } catch (error) {
      throw new CliFailure(
        `The default export of the config module "${file}" threw: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }
  return checkConfig(file, exported);
}

function checkConfig(file: string, exported: unknown): LockstepConfig {
  const where = `The config module "${file}"`;
  if (typeof exported !== "object" || exported === null) {
    throw new CliFailure(
      `${where} must export \`sagas\` (or a default export with it), got ${typeof exported}.`,
    );
  }
  const config = exported as Record<string, unknown>;
  const sagas = listOf(config.sagas);
  if (sagas === undefined || sagas.length === 0) {
    throw new CliFailure(
      `${where} must export \`sagas\`: an array or an object of saga definitions, got ${describe(config.sagas)}.`,
    );
  }
  sagas.forEach((saga, i) => {
    const s = saga as Partial<Saga> | null;
    if (
      typeof s !== "object" ||
      s === null ||
      typeof s.name !== "string" ||
      !Array.isArray(s.steps)
    ) {
      throw new CliFailure(
        `${where} exports a \`sagas\` entry ${i + 1} that is not a saga built by defineSaga(…).build(): ${describe(saga)}.`,
      );
    }
  });
  const stores = config.stores === undefined ? [] : listOf(config.stores);
  if (stores === undefined) {
    throw new CliFailure(
      `${where} exports \`stores\` that is neither an array nor an object: ${describe(config.stores)}.`,
    );
  }
  const log = config.log as SagaLog | undefined;
  if (log !== undefined && (typeof log.list !== "function" || typeof log.load !== "function")) {
    throw new CliFailure(`${where} exports a \`log\` that is not a saga log: ${describe(log)}.`);
  }
  const close = config.close;
  if (close !== undefined && typeof close !== "function") {
    throw new CliFailure(
      `${where} exports a \`close\` that is not a function: ${describe(close)}.`,
    );
  }
  return {
    sagas: sagas as LockstepConfig["sagas"],
    stores: stores as LockstepConfig["stores"],
    log,
    close: close as (() => unknown) | undefined,
  };
}

function listOf(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (typeof value === "object" && value !== null) return Object.values(value);
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value === "object" ? "an object" : `\`${String(value)}\` (${typeof value})`;
}

/**
 * Registers `tsx` so a TypeScript config module can be imported. It is looked up from the config
 * module's folder, then the working directory, then lockstep's own. Registering it when it is
 * already active (the CLI itself run through `tsx`) changes nothing.
 */
async function enableTypeScript(file: string): Promise<void> {
  const failures: string[] = [];
  for (const base of [join(dirname(file), "noop.js"), join(process.cwd(), "noop.js")]) {
    try {
      const require = createRequire(base);
      const esm = require.resolve("tsx/esm/api");
      const cjs = require.resolve("tsx/cjs/api");
      await register(pathToFileURL(esm).href, pathToFileURL(cjs).href);
      return;
    } catch (error) {
      failures.push(messageOf(error));
    }
  }
  try {
    // Specifiers in variables keep the bundler from inlining tsx into the CLI.
    const esm = "tsx/esm/api";
    const cjs = "tsx/cjs/api";
    await register(esm, cjs);
    return;
  } catch (error) {
    failures.push(messageOf(error));
  }
  if ((process.features as { typescript?: unknown }).typescript) return;
  throw new CliFailure(
    `The config module "${file}" is TypeScript, and tsx, which the CLI uses to import it, could not be loaded (${failures[failures.length - 1]}). Compile it to JavaScript (for example with tsc) and pass the .js file, or install tsx (npm install --save-dev tsx).`,
  );
}

async function register(esmSpecifier: string, cjsSpecifier: string): Promise<void> {
  const esm = (await import(esmSpecifier)) as { register?: () => unknown };
  const cjs = (await import(cjsSpecifier)) as { register?: () => unknown };
  const registerEsm =
    esm.register ?? (esm as { default?: { register?: () => unknown } }).default?.register;
  const registerCjs =
    cjs.register ?? (cjs as { default?: { register?: () => unknown } }).default?.register;
  if (typeof registerEsm !== "function" || typeof registerCjs !== "function") {
    throw new Error(`"${esmSpecifier}" has no register function`);
  }
  registerEsm();
  registerCjs();
}
