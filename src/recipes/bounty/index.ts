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
export { type HttpBountyStoreOptions, httpBountyStore } from "./http-ports.js";
export {
  type BountyInvariantOptions,
  checkBountyInvariants,
  type Violation,
} from "./invariants.js";
export {
  applyTransition,
  memoryBountyStore,
  memoryClaimStore,
  memoryCredits,
} from "./memory-ports.js";
export { createMemoryBountyPorts, type MemoryBountyPorts } from "./memory-world.js";
export {
  type Balance,
  BOUNTY_TRANSITIONS,
  type Bounty,
  BountyStatus,
  bountySchema,
  bountyTarget,
  type Claim,
  type ClaimStatus,
  claimSchema,
  defaultBountyId,
  type Reservation,
  type ReservationStatus,
  reservationSchema,
  TERMINAL_BOUNTY_STATUSES,
} from "./model.js";
export { type BountySagas, bountySagas } from "./operations.js";
export type {
  BountyPorts,
  BountyStore,
  BountyTransition,
  ClaimOutcome,
  ClaimStore,
  CreditsService,
  PortRefusal,
} from "./ports.js";
export { type ReconcileReport, reconcileBounties } from "./reconciler.js";
export { type RedisPortOptions, redisClaimStore, redisCredits } from "./redis-ports.js";
export type { BountySagaOptions } from "./saga-context.js";
export {
  createBountyTables,
  type SqlPortOptions,
  sqlBountyStore,
  sqlClaimStore,
  sqlCredits,
} from "./sql-ports.js";
