import { hostname } from "node:os";
import { createRunner } from "../../core/runner.js";
import type { SagaLog } from "../../log/saga-log.js";
import { createRecoveryWorker } from "../../recovery/recovery-worker.js";
import type { RecoveryWorkerSummary } from "../../recovery/recovery-worker-events.js";
import type { Session } from "../command.js";
import type { LockstepConfig } from "../load-config.js";
import { printJson } from "../output.js";
import { plural } from "../table.js";
import { type RecoverSettings, workerOwner } from "./recover-settings.js";
import type { RecoveryTally } from "./recover-tally.js";

/** The signals that stop `recover --watch`: a service manager's stop, and Ctrl-C. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

/**
 * `recover --watch`: one recovery worker per `--workers`, polling until SIGTERM or SIGINT, then
 * draining. The signal handlers are the CLI's: the library never installs any. Prints the summary.
 */
export async function watchRecovery(
  session: Session,
  settings: RecoverSettings,
  config: LockstepConfig,
  log: SagaLog,
  tally: RecoveryTally,
): Promise<void> {
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  // A second signal while draining changes nothing: the passes in flight are bounded by their steps'
  // deadlines, and leaving now would keep their leases held until they lapse.
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal;
    controller.abort();
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  let summaries: RecoveryWorkerSummary[];
  try {
    const workers = Array.from({ length: settings.workers }, (_, i) =>
      createRecoveryWorker({
        runner: createRunner({ log, leaseTtlMs: settings.leaseTtlMs, owner: workerOwner(i + 1) }),
        sagas: config.sagas,
        maxAttempts: settings.maxAttempts,
        limit: settings.limit,
        pollIntervalMs: settings.pollIntervalMs,
        maxPollIntervalMs: settings.maxPollIntervalMs,
        signal: controller.signal,
        reportStatus: { host: hostname(), pid: process.pid },
        onEvent: (event) => {
          if (event.type === "recovery.pass") tally.add(i + 1, event.report);
          else if (event.type === "recovery.pass_failed") {
            session.output.err(
              `[worker ${i + 1}] pass ${event.pass} failed (${plural(event.consecutiveFailures, "time")} in a row), next in ${event.nextPollMs}ms: ${event.error.message}`,
            );
          }
        },
      }),
    );
    if (!session.json) {
      session.output.out(
        `Watching the log with ${plural(settings.workers, "worker")}: a pass every ${settings.pollIntervalMs}ms while there is work, backing off to ${settings.maxPollIntervalMs}ms while there is none. Stop with SIGTERM or SIGINT.`,
      );
    }
    summaries = await Promise.all(workers.map((worker) => worker.stopped));
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
  const passes = summaries.reduce((sum, s) => sum + s.passes, 0);
  const failedPasses = summaries.reduce((sum, s) => sum + s.failedPasses, 0);
  const released = summaries.reduce((sum, s) => sum + s.released, 0);
  const recovered = tally.recovered;
  if (session.json) {
    printJson(session.output, {
      watch: true,
      stoppedBy: stoppedBy ?? null,
      workers: settings.workers,
      passes,
      failedPasses,
      recovered: recovered.length,
      counts: tally.counts(),
      released,
      sagas: recovered,
    });
    return;
  }
  const counts = tally.countsText();
  session.output.out(
    [
      `Stopped on ${stoppedBy ?? "request"} after ${plural(passes, "pass", "passes")} of ${plural(settings.workers, "worker")}`,
      failedPasses === 0 ? "" : ` (${failedPasses} failed)`,
      `: recovered ${plural(recovered.length, "saga")}${counts === "" ? "" : ` (${counts})`}`,
      `; released ${plural(released, "lease")} it still held.`,
    ].join(""),
  );
  const unsettled = tally.unsettled();
  if (unsettled.length > 0) {
    session.output.out(
      `${plural(unsettled.length, "saga")} did not settle; run \`lockstep doctor\` to see why.`,
    );
  }
}
