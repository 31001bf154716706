export {
  mysqlDialect,
  mysqlSpelling,
  postgresDialect,
  type SqlClient,
  type SqlDialect,
  type SqlSpelling,
  sqliteDialect,
  standardSpelling,
  type UpsertColumns,
} from "../sql-client.js";
export { checkContributionInvariants } from "./invariants.js";
export { memoryContributionStore, memoryHandoffStore } from "./memory-ports.js";
export {
  type Contribution,
  type ContributionContent,
  contentAddress,
  contributionContentSchema,
  type Handoff,
  type HandoffStatus,
  handoffId,
  normalizeRoutes,
} from "./model.js";
export {
  type ContributeError,
  type ContributeOptions,
  type ContributeResult,
  type ContributionPorts,
  type Contributions,
  contributionSaga,
  createContributions,
} from "./operations.js";
export type { ContributionStore, HandoffStore } from "./ports.js";
export {
  type ContributionSqlOptions,
  createContributionTables,
  sqlContributionStore,
  sqlHandoffStore,
} from "./sql-ports.js";
