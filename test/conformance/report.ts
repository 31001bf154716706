import { afterAll, beforeEach } from "vitest";

interface Task {
  readonly type: string;
  readonly name: string;
  readonly suite?: Task;
  readonly tasks?: readonly Task[];
  readonly result?: { readonly state?: string };
}

function tests(tasks: readonly Task[]): Task[] {
  return tasks.flatMap((task) =>
    task.type === "suite" ? tests(task.tasks ?? []) : task.type === "test" ? [task] : [],
  );
}

/**
 * Prints, once a conformance suite has run against an adapter, how many cases it registered and
 * how many passed: the count per adapter that CI shows. Call it inside the suite's `describe`.
 */
export function printConformanceCount(capability: string, adapter: string): void {
  let suite: Task | undefined;
  beforeEach((context) => {
    suite ??= (context.task as unknown as Task).suite;
  });
  afterAll(() => {
    if (suite === undefined) return;
    const cases = tests(suite.tasks ?? []);
    const passed = cases.filter((t) => t.result?.state === "pass").length;
    console.log(
      `[conformance] ${capability} on ${adapter}: ${cases.length} cases, ${passed} passed`,
    );
  });
}
