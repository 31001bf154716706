import { FLAVOURS } from "./flavours.js";
import { bountyScenarios } from "./scenario-suite.js";

for (const flavour of FLAVOURS) bountyScenarios(flavour);
