import { hasBrand } from "../model/brand.js";
/** Why a crash exploration, a simulation or a race failed. */
export const TestingErrorCode = {
  /** The dry run passed no durable boundary: there was nothing to explore, so nothing was shown. */
  NoCrashPoints: "no_crash_points",
  /** A crash point found by the dry run was not reached by its own run: the saga is not deterministic. */
  UnreachedCrashPoints: "unreached_crash_points",
  /** An invariant did not hold after a recovery pass. */
  InvariantViolated: "invariant_violated",
  /**
   * No invariant judged the stores, only the log: the run showed nothing about what the saga
   * leaves in them, so it does not pass (unless `allowUncheckedStores` says so).
   */
  StoresUnchecked: "stores_unchecked",
} as const;

/** One of the values of {@link TestingErrorCode}. */
export type TestingErrorCode = (typeof TestingErrorCode)[keyof typeof TestingErrorCode];

/** A failed exploration or simulation, as a value: what went wrong and the full report. */
export interface TestingError<Report> {
  readonly code: TestingErrorCode;
  /** Full sentences naming what failed and how to replay it. */
  readonly message: string;
  /** Everything the run found, violations and replayable schedules included. */
  readonly report: Report;
}

const FAILURE_BRAND = Symbol.for("lockstep.test-failure");

/**
 * Thrown by the `assert…` variants of the testing kit when an exploration or simulation fails. Its
 * message names every violation with the seed or schedule that replays it.
 */
export class LockstepTestFailure<Report = unknown> extends Error {
  readonly [FAILURE_BRAND] = true;
  /** Why it failed. */
  readonly code: TestingErrorCode;
  /** The full report. */
  readonly report: Report;

  constructor(error: TestingError<Report>) {
    super(error.message);
    this.name = "LockstepTestFailure";
    this.code = error.code;
    this.report = error.report;
  }

  /** Recognizes a test failure from any copy of lockstep (ESM or CJS). */
  static is(value: unknown): value is LockstepTestFailure {
    return hasBrand(value, FAILURE_BRAND);
  }
}
