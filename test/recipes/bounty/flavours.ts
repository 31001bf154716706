import { drizzleFlavour } from "./drizzle-flavour.js";
import { type Flavour, memoryFlavour } from "./harness.js";
import { httpFlavour } from "./http-flavour.js";
import { postgresFlavour } from "./postgres-flavour.js";
import { postgresRedisFlavour } from "./postgres-redis-flavour.js";
import { sqliteFlavour } from "./sqlite-flavour.js";

/** Every store flavour the bounty scenarios run on. */
export const FLAVOURS: readonly Flavour[] = [
  memoryFlavour,
  sqliteFlavour,
  httpFlavour,
  postgresFlavour,
  postgresRedisFlavour,
  drizzleFlavour,
];
