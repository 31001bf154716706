import { explain as explainSaga, type InDoubtWindow, type SagaPlan } from "../../core/explain.js";
import { UsageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { plural, renderTable } from "../table.js";

const IN_DOUBT_LABEL: Readonly<Record<InDoubtWindow, string>> = {
  none: "none",
  until_probed: "until probed",
  re_executed_by_key: "re-executed by key",
};

/** `lockstep explain`: the plan of every saga in the config module. */
export const explainCommand: Command = {
  name: "explain",
  summary: "Show how each saga's steps will be made safe, and what they lack.",
  synopsis: "explain --config <module> [--log <url>] [--saga <name>…] [--strict] [--json]",
  description:
    "For every saga the config module exports (or those named by --saga): per step, the strategy its store's declared capabilities resolve to (co-committed with the log, or a probed saga step; consecutive co-committed steps share one transaction), the guarantee in words, its in-doubt window, its gaps (no probe, no compare-and-set guard), and notes: how a timed-out attempt is closed, the key window of a step on a payment-style API (how long the provider remembers its idempotency key, and what happens after), and where a step's outbox messages are recorded and how they are relayed. The log (--log, or the config's) decides co-commit. With --strict, exits 1 when any saga has a gap.",
  options: {
    saga: {
      type: "string",
      multiple: true,
      value: "<name>",
      description: "Only this saga (repeatable).",
    },
    strict: {
      type: "boolean",
      description: "Exit 1 when a saga has a gap, as strict mode would refuse to run it.",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run(session) {
    const config = await session.requireConfig("to explain them");
    const log = await session.optionalLog();
    const wanted = (session.values.saga as string[] | undefined) ?? [];
    const known = config.sagas.map((s) => s.name);
    for (const name of wanted) {
      if (!known.includes(name)) {
        throw new UsageError(
          `Expected --saga to name a saga of the config module (${known.join(", ")}), got "${name}".`,
          "explain",
        );
      }
    }
    const sagas =
      wanted.length === 0 ? config.sagas : config.sagas.filter((s) => wanted.includes(s.name));
    const plans = sagas.map((saga) => explainSaga(saga, log === undefined ? {} : { log }));
    const gaps = plans.reduce((n, p) => n + p.gaps.length, 0);
    const code = session.values.strict === true && gaps > 0 ? ExitCode.Problems : ExitCode.Ok;
    if (session.json) {
      printJson(session.output, { sagas: plans.length, gaps, plans });
      return code;
    }
    for (const plan of plans) printPlan(session.output.out, plan);
    session.output.out(`${plural(plans.length, "saga")} explained, ${plural(gaps, "gap")}.`);
    return code;
  },
};

function printPlan(out: (text: string) => void, plan: SagaPlan): void {
  out(
    `saga ${plan.saga} v${plan.version} (before its pivot, recovery will ${plan.recovery === "compensate" ? "compensate" : "roll forward"})`,
  );
  out(
    renderTable(
      ["  #", "STEP", "KIND", "STORE", "STRATEGY", "IN DOUBT", "GAPS"],
      plan.steps.map((step, i) => [
        `  ${i + 1}`,
        step.name,
        step.kind,
        step.store,
        step.strategy !== "saga"
          ? `${step.strategy === "batch_co_committed" ? "batch co-committed" : "co-committed"}${step.transaction !== undefined && step.transaction.length > 1 ? ` (tx ${plan.transactions.indexOf(step.transaction) + 1})` : ""}`
          : "saga",
        IN_DOUBT_LABEL[step.inDoubt],
        step.gaps.map((g) => g.code).join(", "),
      ]),
    ),
  );
  for (const group of plan.transactions) {
    if (group.length > 1) {
      out(
        `  tx ${plan.transactions.indexOf(group) + 1}: ${group.map((n) => `"${n}"`).join(", ")} commit in one transaction with their log records.`,
      );
    }
  }
  out("  guarantees:");
  for (const step of plan.steps) out(`    ${step.name}: ${step.guarantee}`);
  if (plan.gaps.length > 0) {
    out("  gaps:");
    for (const gap of plan.gaps) out(`    - ${gap.message}`);
  }
  // Each step's notes (its fence, its key window, its outbox messages), then the saga's.
  for (const note of [...plan.steps.flatMap((s) => s.notes), ...plan.notes]) out(`  note: ${note}`);
  out("");
}
