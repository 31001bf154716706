/**
 * The part of vitest's API the conformance suites use (describe, it, hooks, expect), for running
 * the same suite files on Bun and Deno. `expect` is vitest's own (@vitest/expect on chai), so every
 * matcher behaves as it does under vitest. Suites and tests run in registration order, one at a
 * time; {@link runRegistered} runs them and returns every case's outcome.
 */
import {
  ChaiStyleAssertions,
  chai,
  customMatchers,
  GLOBAL_EXPECT,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
} from "@vitest/expect";

// As vitest's own setup does, less snapshots.
chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(ChaiStyleAssertions);
chai.use(JestAsymmetricMatchers);

type Hook = (context: unknown, suite: SuiteTask) => unknown;
type Body = () => unknown;

export interface TestTask {
  readonly type: "test";
  readonly name: string;
  readonly mode: "run";
  readonly suite: SuiteTask;
  readonly fn: Body;
  readonly timeout: number;
  result?: { state: "pass" | "fail"; error?: string };
}

export interface SuiteTask {
  readonly type: "suite";
  readonly name: string;
  readonly mode: "run";
  readonly suite: SuiteTask | undefined;
  readonly tasks: (SuiteTask | TestTask)[];
  readonly hooks: Record<"beforeAll" | "afterAll" | "beforeEach" | "afterEach", Hook[]>;
  /** The group (a file or set of files) the suite was registered under. */
  readonly group: string;
}

const newSuite = (name: string, parent: SuiteTask | undefined, group: string): SuiteTask => ({
  type: "suite",
  name,
  mode: "run",
  suite: parent,
  tasks: [],
  hooks: { beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] },
  group,
});

const roots: SuiteTask[] = [];
let current: SuiteTask | undefined;

/** Starts a group: suites registered from now on belong to it. */
export function beginGroup(group: string): void {
  current = newSuite(group, undefined, group);
  roots.push(current);
}

function here(): SuiteTask {
  if (current === undefined) throw new Error("Register suites after beginGroup().");
  return current;
}

export function describe(name: string, body: Body, _timeout?: number): void {
  const parent = here();
  const suite = newSuite(name, parent, parent.group);
  parent.tasks.push(suite);
  current = suite;
  try {
    body();
  } finally {
    current = parent;
  }
}

export function it(name: string, fn: Body, timeout = 30_000): void {
  const suite = here();
  suite.tasks.push({ type: "test", name, mode: "run", suite, fn, timeout });
}
export const test = it;

/** vitest's `%s`/`%d`/`%i`/`%j` title formatting for `.each`. */
function format(title: string, args: readonly unknown[]): string {
  let i = 0;
  return title.replace(/%[sdij]/g, (spec) => {
    const value = args[i++];
    return spec === "%j" ? JSON.stringify(value) : String(value);
  });
}

const each =
  <F extends (name: string, body: Body, timeout?: number) => void>(register: F) =>
  (table: readonly unknown[]) =>
  (name: string, fn: (...args: never[]) => unknown, timeout?: number) => {
    for (const row of table) {
      const args = Array.isArray(row) ? row : [row];
      register(format(name, args), () => fn(...(args as never[])), timeout);
    }
  };
describe.each = each(describe);
it.each = each(it);

export const beforeAll = (hook: Hook) => void here().hooks.beforeAll.push(hook);
export const afterAll = (hook: Hook) => void here().hooks.afterAll.push(hook);
export const beforeEach = (hook: Hook) => void here().hooks.beforeEach.push(hook);
export const afterEach = (hook: Hook) => void here().hooks.afterEach.push(hook);

export const expect = ((value: unknown, message?: string) =>
  chai.expect(value, message)) as unknown as typeof import("vitest").expect;
Object.assign(expect, chai.expect);
(globalThis as Record<symbol, unknown>)[GLOBAL_EXPECT] = expect;
setState(
  { assertionCalls: 0, isExpectingAssertions: false, expectedAssertionsNumber: null },
  expect as never,
);
const extendable = expect as unknown as { extend(matchers: unknown): void };
extendable.extend = (matchers: unknown) =>
  (chai.expect as unknown as { extend(e: unknown, m: unknown): void }).extend(expect, matchers);
extendable.extend(customMatchers);

/** The outcome of one case. */
export interface CaseOutcome {
  readonly group: string;
  readonly name: string;
  readonly passed: boolean;
  /** Wall time of the case, hooks included. */
  readonly ms?: number;
  readonly error?: string;
}

const describeError = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

async function withTimeout(fn: () => unknown, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const chain = (suite: SuiteTask | undefined): SuiteTask[] =>
  suite === undefined ? [] : [...chain(suite.suite), suite];

const fullName = (task: TestTask | SuiteTask): string =>
  [
    ...chain(task.suite)
      .slice(1)
      .map((s) => s.name),
    task.name,
  ].join(" > ");

async function runSuite(suite: SuiteTask, out: CaseOutcome[]): Promise<void> {
  const fail = (name: string, error: unknown) =>
    out.push({ group: suite.group, name, passed: false, error: describeError(error) });
  try {
    for (const hook of suite.hooks.beforeAll)
      await withTimeout(() => hook({}, suite), 30_000, "beforeAll");
  } catch (error) {
    fail(`${fullName(suite)} (beforeAll)`, error);
    return;
  }
  for (const task of suite.tasks) {
    if (task.type === "suite") {
      await runSuite(task, out);
      continue;
    }
    const suites = chain(task.suite);
    const context = { task };
    const started = performance.now();
    try {
      for (const s of suites) for (const hook of s.hooks.beforeEach) await hook(context, s);
      await withTimeout(task.fn, task.timeout, task.name);
      task.result = { state: "pass" };
    } catch (error) {
      task.result = { state: "fail", error: describeError(error) };
    }
    try {
      for (const s of suites.reverse())
        for (const hook of s.hooks.afterEach) await hook(context, s);
    } catch (error) {
      // The case's own failure, if any, is the one to report: a teardown often fails because of it.
      if (task.result.state === "pass")
        task.result = { state: "fail", error: `afterEach: ${describeError(error)}` };
    }
    out.push({
      group: suite.group,
      name: fullName(task),
      passed: task.result.state === "pass",
      ms: Math.round(performance.now() - started),
      ...(task.result.error === undefined ? {} : { error: task.result.error }),
    });
  }
  for (const hook of suite.hooks.afterAll) {
    try {
      await hook({}, suite);
    } catch (error) {
      fail(`${fullName(suite)} (afterAll)`, error);
    }
  }
}

/** Runs every registered group, in order, and returns each case's outcome. */
export async function runRegistered(): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = [];
  for (const root of roots) await runSuite(root, out);
  return out;
}

/** How many cases each group registered, without running any: the count a runtime must reach. */
export function registeredCounts(): Record<string, number> {
  const count = (suite: SuiteTask): number =>
    suite.tasks.reduce((n, task) => n + (task.type === "suite" ? count(task) : 1), 0);
  return Object.fromEntries(roots.map((root) => [root.group, count(root)]));
}
