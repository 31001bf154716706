import type { Saga } from "../core/saga.js";
import { LockstepDefinitionError } from "../model/definition-error.js";

/**
 * The sagas recovery may meet in the log, by `name@version`. Two different definitions under one
 * name and version are refused: recovery matches a logged saga by those two alone, so it would
 * drive it with whichever came last. The same definition listed twice is one definition.
 */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds sagas of every input and output type.
export function sagaRegistry(sagas: readonly Saga<any, any>[]): Map<string, Saga> {
  const registry = new Map<string, Saga>();
  const positions = new Map<Saga, number>();
  sagas.forEach((entry, index) => {
    const saga = entry as Saga;
    const key = `${saga.name}@${saga.version}`;
    const known = registry.get(key);
    if (known !== undefined && known !== saga) {
      const steps = (s: Saga) => s.steps.map((step) => step.name).join(", ");
      throw new LockstepDefinitionError(
        `The recoverer was given two definitions of saga "${saga.name}" version ${saga.version}, \`sagas[${positions.get(known)}]\` (steps ${steps(known)}) and \`sagas[${index}]\` (steps ${steps(saga)}); recovery could not tell which one a logged saga ran with. Pass each definition once, and give a changed one a new version.`,
      );
    }
    registry.set(key, saga);
    if (!positions.has(saga)) positions.set(saga, index);
  });
  return registry;
}
