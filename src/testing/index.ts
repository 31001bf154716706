export {
  createMemoryStore,
  type MemoryDoc,
  type MemoryFaultPoint,
  type MemoryHandle,
  type MemoryStore,
  type MemoryStoreOptions,
  type MemoryTier,
  type MemoryWrite,
  type MemoryWriteResult,
  memoryDelete,
  memoryPut,
} from "../adapters/memory/index.js";
export { type AllOrNothingOptions, allOrNothing, type EffectPresent } from "./all-or-nothing.js";
export { canonicalJson } from "./canonical-json.js";
export { CrashSwitch, SimulatedCrash } from "./crash-switch.js";
export {
  type Effect,
  type EffectCall,
  EffectLedger,
  type EffectPhase,
  type StartedCall,
} from "./effect-ledger.js";
export { effectsMatchLog } from "./effects-match-log.js";
export {
  assertCrashPoints,
  type CrashExplorationReport,
  type CrashSchedule,
  type CrashViolation,
  DEFAULT_LATE_LANDING_MS,
  type ExploreCrashPointsOptions,
  exploreCrashPoints,
  type LateCall,
} from "./explore-crash-points.js";
export { fastCheckScheduler } from "./fast-check-scheduler.js";
export type { FastCheckArbitrary, FastCheckScheduler } from "./fast-check-types.js";
export {
  type Fault,
  type FaultEvent,
  FaultInjector,
  type FaultInjectorOptions,
  type FaultSiteState,
  type LateTarget,
} from "./fault-injector.js";
export {
  checkFaultPlan,
  FAULT_KINDS,
  FaultKind,
  type FaultPlan,
  type FaultRule,
  NO_FAULTS,
  type RandomFaultPlanOptions,
  randomFaultPlan,
} from "./fault-plan.js";
export {
  type FastCheckArbitraries,
  type FaultPlanArbitraryOptions,
  faultPlanArbitrary,
} from "./fault-plan-arbitrary.js";
export { InFlightCalls } from "./in-flight-calls.js";
export {
  checkInvariants,
  type DefineInvariantOptions,
  defineInvariant,
  type Invariant,
  type InvariantContext,
  type InvariantReads,
  type InvariantResult,
  type InvariantViolation,
  loadSagas,
} from "./invariant.js";
export { logWellFormed } from "./log-well-formed.js";
export { noDoubleCompensation } from "./no-double-compensation.js";
export { noDoubleEffect } from "./no-double-effect.js";
export { type RaceSagasOptions, raceSagas } from "./race-sagas.js";
export { recoveryIdempotent } from "./recovery-idempotent.js";
export type {
  ScheduleActor,
  ScheduleOptions,
  ScheduleResult,
} from "./run-schedule.js";
export type { AnySaga, Scenario, ScenarioWorld } from "./scenario.js";
export { deriveSeed, MAX_SEED, seededRandom } from "./seeded-random.js";
export { type CallGate, SeededScheduler } from "./seeded-scheduler.js";
export {
  assertSimulation,
  type ScheduleViolation,
  type SimulateOptions,
  type SimulationReport,
  simulate,
} from "./simulate.js";
export { standardInvariants } from "./standard-invariants.js";
export { type TerminalStateOptions, terminalState } from "./terminal-state.js";
export {
  LockstepTestFailure,
  type TestingError,
  TestingErrorCode,
} from "./testing-error.js";
export {
  type Settled,
  type SettleOptions,
  type TaskScheduler,
  VirtualClock,
  type VirtualClockOptions,
} from "./virtual-clock.js";
export { type FaultableStore, type WithFaultsOptions, withFaults } from "./with-faults.js";
