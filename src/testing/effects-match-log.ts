import { replaySteps } from "../log/replay.js";
import type { Effect, EffectLedger } from "./effect-ledger.js";
import { defineInvariant, type Invariant } from "./invariant.js";

/**
 * An invariant that no effect outlives what the log says of its step: an effect a step's
 * `execute` applied is present at the end only for a step the log records as committed (or in
 * doubt). It flags an effect of a step the log says did not commit (or never ran, or a saga the log
 * does not hold), and an effect of a compensated step that applied after its last compensation
 * began, so that nothing undid it: a late landing or a slow commit the runner took for "not
 * committed". (Whether a compensation undoes what it found is for the invariants that read the
 * stores, such as {@link allOrNothing}.)
 *
 * It judges the {@link EffectLedger} the kit records (see `context.effects`), not the stores'
 * contents, so it does not count as judging the stores.
 *
 * @example
 * ```ts
 * const invariants = [...standardInvariants(), effectsMatchLog(), noDoubleEffect()];
 * ```
 */
export function effectsMatchLog(): Invariant {
  const name = "effects match the log";
  return defineInvariant(
    name,
    ({ sagas, effects }) => {
      if (effects === undefined) return noLedger(name);
      const bySaga = stepEffects(effects);
      const violations: string[] = [];
      const known = new Set(sagas.map((s) => s.record.sagaId));
      for (const [sagaId, steps] of bySaga) {
        if (known.has(sagaId)) continue;
        for (const [step, mine] of steps) {
          const done = mine.filter((e) => e.call?.phase === "execute");
          if (done.length > 0) {
            violations.push(
              `Step "${step}" of saga "${sagaId}" applied ${describe(done)}, but the log holds no saga "${sagaId}".`,
            );
          }
        }
      }
      for (const saga of sagas) {
        const steps = bySaga.get(saga.record.sagaId);
        if (steps === undefined) continue;
        for (const step of replaySteps(saga.record.definition, saga.entries)) {
          const mine = steps.get(step.name) ?? [];
          const done = mine.filter((e) => e.call?.phase === "execute");
          const last = done[done.length - 1];
          if (last === undefined || step.status === "committed" || step.status === "unknown") {
            continue;
          }
          const who = `Step "${step.name}" of saga "${saga.record.sagaId}" (${saga.record.status})`;
          if (step.status !== "compensated") {
            violations.push(`${who} is ${step.status} in the log, but ${describe(done)} applied.`);
            continue;
          }
          // Only an effect that applied after the step's last compensation began escaped it.
          const began = lastCompensation(effects, saga.record.sagaId, step.name);
          const stray = done.filter((e) => e.seq > began);
          if (stray.length > 0) {
            violations.push(
              `${who} is compensated in the log, but ${describe(stray)} applied after its last compensation began, so nothing undid it.`,
            );
          }
        }
      }
      return violations;
    },
    { reads: "log" },
  );
}

/** Where the last traced compensation of a step began, or 0 if none did. */
function lastCompensation(effects: EffectLedger, sagaId: string, step: string): number {
  let seq = 0;
  for (const { seq: at, call } of effects.calls) {
    if (call.sagaId === sagaId && call.step === step && call.phase === "compensate") seq = at;
  }
  return seq;
}

/** The effects made by traced step calls, by saga id, then by step name, in order. */
export function stepEffects(effects: EffectLedger): Map<string, Map<string, Effect[]>> {
  const bySaga = new Map<string, Map<string, Effect[]>>();
  for (const effect of effects.all) {
    const call = effect.call;
    if (call === undefined) continue;
    const steps = bySaga.get(call.sagaId) ?? new Map<string, Effect[]>();
    bySaga.set(call.sagaId, steps);
    const list = steps.get(call.step) ?? [];
    steps.set(call.step, list);
    list.push(effect);
  }
  return bySaga;
}

/** Effects as a phrase naming where, by which call, and whether they landed late. */
export function describe(effects: readonly Effect[]): string {
  const parts = effects.map(
    (e) =>
      `${e.site} (execution ${e.call?.execution}, attempt ${e.call?.attempt}${e.late ? ", landed after its deadline" : ""})`,
  );
  return `${effects.length === 1 ? "its effect at" : `${effects.length} effects at`} ${parts.join(", ")}`;
}

/** The violation of an effect checker given no ledger to judge. */
export function noLedger(name: string): string {
  return `The invariant "${name}" was given no effect ledger (\`context.effects\`): the explorer and the simulator pass one; pass a FaultInjector's \`effects\` when you check invariants yourself.`;
}
