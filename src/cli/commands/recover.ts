import { createRunner } from "../../core/runner.js";
import type { SagaLog } from "../../log/saga-log.js";
import { createRecoverer } from "../../recovery/recoverer.js";
import { CliFailure } from "../cli-error.js";
import type { Command } from "../command.js";
import { ExitCode } from "../exit-code.js";
import type { LockstepConfig } from "../load-config.js";
import { printJson } from "../output.js";
import { plural } from "../table.js";
import { type RecoverSettings, readRecoverSettings, workerOwner } from "./recover-settings.js";
import { RecoveryTally } from "./recover-tally.js";
import { watchRecovery } from "./recover-watch.js";

/** `lockstep recover`: concurrent recovery loops until no saga is left to claim, or until stopped. */
export const recover: Command = {
  name: "recover",
  summary:
    "Recover stuck sagas with N concurrent workers until none is left to claim, or with --watch until stopped.",
  synopsis:
    "recover --config <module> [--log <url>] [--workers <n>] [--limit <n>] [--lease-ttl <duration>] [--max-attempts <n>] [--watch [--interval <duration>] [--max-interval <duration>]] [--json]",
  description:
    "Runs N recovery loops at once, each a runner of its own, until a pass claims nothing: each claims sagas whose lease lapsed (compare-and-set, fencing token + 1), probes their in-doubt steps, then rolls them forward past the pivot or compensates them before it. Prints a line per saga. Sagas whose next attempt is not due yet are left for a later run. Exits 1 when a saga ended anything but completed or compensated.\n\nWith --watch it runs as a recovery worker instead, until it receives SIGTERM or SIGINT: each worker polls the log every --interval while there is work, and backs off (with jitter) up to --max-interval while there is none or a pass fails, recovering sagas as they appear. On the signal each worker lets its pass in flight finish and releases the leases it still holds; the command then prints a summary (one JSON document with --json) and exits 0. As a service (systemd, a Kubernetes deployment): `lockstep recover --watch --config lockstep.config.js --workers 2 --max-interval 1m`.",
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
    watch: {
      type: "boolean",
      description:
        "Keep recovering sagas as they appear until SIGTERM or SIGINT; then drain, release leases, exit 0.",
    },
    interval: {
      type: "string",
      value: "<duration>",
      description: "With --watch: the wait between passes while there is work (default 1s).",
    },
    "max-interval": {
      type: "string",
      value: "<duration>",
      description:
        "With --watch: the longest wait, reached while passes find nothing or fail (default 30s).",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  createsLog: true,
  async run(session) {
    const settings = readRecoverSettings(session);
    const config = await session.requireConfig("so that it can run their steps");
    const log = await session.log();
    const tally = new RecoveryTally(session);
    if (settings.watch) {
      await watchRecovery(session, settings, config, log, tally);
      return ExitCode.Ok;
    }
    const passes = await drain(settings, config, log, tally);
    const { workers } = settings;
    const recovered = tally.recovered;
    if (session.json) {
      printJson(session.output, {
        workers,
        passes,
        recovered: recovered.length,
        counts: tally.counts(),
        sagas: recovered,
      });
    } else if (recovered.length === 0) {
      session.output.out("Nothing to recover: no saga is due with a lapsed lease.");
    } else {
      session.output.out(
        `Recovered ${plural(recovered.length, "saga")} with ${plural(workers, "worker")}: ${tally.countsText()}.`,
      );
    }
    const unsettled = tally.unsettled();
    if (!session.json && unsettled.length > 0) {
      session.output.out(
        `${plural(unsettled.length, "saga")} did not settle; run \`lockstep doctor\` to see why.`,
      );
    }
    return unsettled.length === 0 ? ExitCode.Ok : ExitCode.Problems;
  },
};

/** Runs every worker's passes until one claims nothing; resolves to how many passes ran. */
async function drain(
  settings: RecoverSettings,
  config: LockstepConfig,
  log: SagaLog,
  tally: RecoveryTally,
): Promise<number> {
  let passes = 0;
  const worker = async (n: number) => {
    const runner = createRunner({ log, leaseTtlMs: settings.leaseTtlMs, owner: workerOwner(n) });
    const recoverer = createRecoverer({
      runner,
      sagas: config.sagas,
      maxAttempts: settings.maxAttempts,
    });
    for (;;) {
      const result = await recoverer.recover({ limit: settings.limit });
      if (result.isErr()) throw new CliFailure(result.error.message, { cause: result.error });
      passes++;
      if (result.value.claimed === 0) return;
      tally.add(n, result.value);
    }
  };
  await Promise.all(Array.from({ length: settings.workers }, (_, i) => worker(i + 1)));
  return passes;
}
