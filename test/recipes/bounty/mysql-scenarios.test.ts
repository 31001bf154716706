import { expectConformanceCases } from "../../adapters/mysql/mysql-test.js";
import { mysqlFlavour } from "./mysql-flavour.js";
import { bountyScenarios } from "./scenario-suite.js";

// Its own file, not in FLAVOURS: the bounty scenarios on MySQL, without widening the crash suite.
bountyScenarios(mysqlFlavour);
expectConformanceCases(`bounty scenarios on ${mysqlFlavour.name}`, 22);
