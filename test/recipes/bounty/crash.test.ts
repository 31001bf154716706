import { bountyCrashPoints } from "./crash-suite.js";
import { FLAVOURS } from "./flavours.js";

for (const flavour of FLAVOURS) bountyCrashPoints(flavour);
