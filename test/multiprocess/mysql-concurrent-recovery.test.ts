import { concurrentRecoverySuite } from "./recovery-suite.js";

// Fewer sagas than on Postgres: each of the MySQL log's writes is a transaction of a few round
// trips, and the file must stay well within the test timeout on a shared two-core machine.
concurrentRecoverySuite("mysql", 32, 128);
