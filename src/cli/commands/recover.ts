import { createRunner } from "../../core/runner.js";
import type { RecoveredSaga, RecoveryOutcome } from "../../recovery/recoverer.js";
import { createRecoverer } from "../../recovery/recoverer.js";
import { CliFailure } from "../cli-error.js";
import type { Command } from "../command.js";
import { parseDuration } from "../duration.js";
import { ExitCode } from "../exit-code.js";
import { printJson } from "../output.js";
import { plural } from "../table.js";

const SETTLED: readonly RecoveryOutcome[] = ["completed", "compensated"];

/** One saga a worker recovered, for the report. */
interface Recovered {
  readonly worker: number;
  readonly sagaId: string;
  readonly saga: string | undefined;
  readonly outcome: RecoveryOutcome;
  readonly error?: { readonly code: string; readonly message: string };
}

/** `lockstep recover`: concurrent recovery loops until no saga is left to claim. */
export const recover: Command = {
  name: "recover",
  summary: "Recover stuck sagas with N concurrent workers until none is left to claim.",
  synopsis:
    "recover --config <module> [--log <url>] [--workers <n>] [--limit <n>] [--lease-ttl <duration>] [--max-attempts <n>] [--json]",
  description:
    "Runs N recovery loops at once, each a runner of its own, until a pass claims nothing: each claims sagas whose lease lapsed (compare-and-set, fencing token + 1), probes their in-doubt steps, then rolls them forward past the pivot or compensates them before it. Prints a line per saga. Sagas whose next attempt is not due yet are left for a later run. Exits 1 when a saga ended anything but completed or compensated.",
  options: {
    workers: {
      type: "string",
      value: "<n>",
      description: "How many recovery loops run at once (default 1).",
    },
    limit: {
      type: "string",
      value: "<n>",
      description: "How many sagas one pass of one worker claims (default 100).",
    },
    "lease-ttl": {
      type: "string",
      value: "<duration>",
      description: "How long a worker's lease on a saga lasts without renewal (default 30s).",
    },
    "max-attempts": {
      type: "string",
      value: "<n>",
      description:
        "Recovery attempts per saga before it ends needs_attention (default 10); keep it the same as your recoverers'.",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run(session) {
    const workers = session.integer("workers", 1, 1);
    const limit = session.integer("limit", 1, 100);
    const maxAttempts = session.integer("max-attempts", 1, 10);
    const ttlFlag = session.string("lease-ttl");
    const leaseTtlMs =
      ttlFlag === undefined ? 30_000 : parseDuration("lease-ttl", ttlFlag, "recover");
    if (leaseTtlMs < 1) {
      throw new CliFailure(`Expected --lease-ttl to be at least 1ms, got "${ttlFlag}".`);
    }
    const config = await session.requireConfig("so that it can run their steps");
    const log = await session.log();
    const recovered: Recovered[] = [];
    let passes = 0;
    const worker = async (n: number) => {
      const runner = createRunner({ log, leaseTtlMs, owner: `lockstep-cli-${process.pid}-w${n}` });
      const recoverer = createRecoverer({ runner, sagas: config.sagas, maxAttempts });
      for (;;) {
        const result = await recoverer.recover({ limit });
        if (result.isErr()) throw new CliFailure(result.error.message, { cause: result.error });
        passes++;
        if (result.value.claimed === 0) return;
        for (const saga of result.value.sagas) {
          const entry = summarize(n, saga);
          recovered.push(entry);
          if (!session.json) session.output.out(progressLine(entry));
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, (_, i) => worker(i + 1)));
    const counts: Partial<Record<RecoveryOutcome, number>> = {};
    for (const r of recovered) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
    const unsettled = recovered.filter((r) => !SETTLED.includes(r.outcome));
    if (session.json) {
      printJson(session.output, {
        workers,
        passes,
        recovered: recovered.length,
        counts,
        sagas: recovered,
      });
    } else if (recovered.length === 0) {
      session.output.out("Nothing to recover: no saga is due with a lapsed lease.");
    } else {
      const tally = Object.entries(counts)
        .map(([outcome, n]) => `${outcome} ${n}`)
        .join(", ");
      session.output.out(
        `Recovered ${plural(recovered.length, "saga")} with ${plural(workers, "worker")}: ${tally}.`,
      );
      if (unsettled.length > 0) {
        session.output.out(
          `${plural(unsettled.length, "saga")} did not settle; run \`lockstep doctor\` to see why.`,
        );
      }
    }
    return unsettled.length === 0 ? ExitCode.Ok : ExitCode.Problems;
  },
};

function summarize(worker: number, saga: RecoveredSaga): Recovered {
  return {
    worker,
    sagaId: saga.sagaId,
    saga: saga.saga,
    outcome: saga.outcome,
    ...(saga.error === undefined
      ? {}
      : { error: { code: saga.error.code, message: saga.error.message } }),
  };
}

function progressLine(r: Recovered): string {
  const line = `[worker ${r.worker}] ${r.sagaId} ${r.saga ?? "(unreadable)"} -> ${r.outcome}`;
  return SETTLED.includes(r.outcome) || r.error === undefined
    ? line
    : `${line}: ${r.error.message}`;
}
