import type { Command } from "../command.js";
import { consoleCommand } from "./console.js";
import { doctor } from "./doctor.js";
import { events } from "./events.js";
import { explainCommand } from "./explain.js";
import { prune } from "./prune.js";
import { recover } from "./recover.js";
import { sagasList } from "./sagas-list.js";
import { sagasShow } from "./sagas-show.js";

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = Object.freeze([
  sagasList,
  sagasShow,
  doctor,
  recover,
  prune,
  events,
  explainCommand,
  consoleCommand,
]);
