import type { AttentionReason } from "../model/attention-reason.js";
import type { ErrorKind } from "../model/error-kind.js";
import type { SagaStatus } from "../model/records.js";

interface EventBase<T extends string> {
  readonly type: T;
  readonly sagaId: string;
  /** The saga's name. */
  readonly saga: string;
  /** When it happened, on the runner's clock. */
  readonly at: number;
}

/** Every transition a runner goes through, as a typed event. */
export type SagaEvent =
  | (EventBase<"saga.started"> & { readonly recovery: boolean })
  | (EventBase<"step.started"> & { readonly step: string; readonly attempt: number })
  | (EventBase<"step.committed"> & {
      readonly step: string;
      readonly attempt: number;
      readonly via: "execute" | "probe";
    })
  | (EventBase<"step.not_committed"> & {
      readonly step: string;
      readonly attempt: number;
      readonly kind: ErrorKind;
    })
  | (EventBase<"step.unknown"> & {
      readonly step: string;
      readonly attempt: number;
      readonly kind: ErrorKind;
    })
  | (EventBase<"step.probed"> & {
      readonly step: string;
      readonly result: "committed" | "not_committed" | "unknown";
    })
  | (EventBase<"step.retrying"> & {
      readonly step: string;
      readonly attempt: number;
      readonly delayMs: number;
    })
  | (EventBase<"compensation.started"> & { readonly step: string; readonly attempt: number })
  | (EventBase<"compensation.finished"> & {
      readonly step: string;
      readonly attempt: number;
      readonly result: "compensated" | "skipped" | "guard_failed" | "failed";
    })
  | (EventBase<"saga.status"> & { readonly status: SagaStatus; readonly reason?: AttentionReason })
  | EventBase<"saga.lease_lost">;

/** The `type` of every saga event. */
export type SagaEventType = SagaEvent["type"];

/** Receives saga events. It must not throw; if it does, the error is given to the logger and dropped. */
export type EventListener = (event: SagaEvent) => void;

/**
 * A logger interface with pino's argument order (fields first), so a pino logger fits as it is.
 * lockstep itself never prints; without a logger nothing is logged.
 */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
