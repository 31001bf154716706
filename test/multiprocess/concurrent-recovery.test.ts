import { concurrentRecoverySuite } from "./recovery-suite.js";

concurrentRecoverySuite("postgres", 128, 500);
