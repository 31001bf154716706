import { type Flavour, memoryFlavour } from "./harness.js";
import { sqliteFlavour } from "./sqlite-flavour.js";

/** Every store flavour the bounty scenarios run on. */
export const FLAVOURS: readonly Flavour[] = [memoryFlavour, sqliteFlavour];
