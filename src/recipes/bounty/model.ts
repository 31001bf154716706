import { z } from "zod";

/** Where a bounty stands. */
export const BountyStatus = {
  Draft: "draft",
  Open: "open",
  Claimed: "claimed",
  PendingSettlement: "pending_settlement",
  Completed: "completed",
  Settled: "settled",
  Expired: "expired",
  Cancelled: "cancelled",
} as const;

/** One of the values of {@link BountyStatus}. */
export type BountyStatus = (typeof BountyStatus)[keyof typeof BountyStatus];

/** Statuses no transition leaves. */
export const TERMINAL_BOUNTY_STATUSES: readonly BountyStatus[] = [
  "settled",
  "expired",
  "cancelled",
];

/**
 * The legal transitions. Every transition is a compare-and-set on the current status and version;
 * `claimed → claimed` is a claim renewal that may rotate the claim id.
 */
export const BOUNTY_TRANSITIONS: Readonly<Record<BountyStatus, readonly BountyStatus[]>> = {
  draft: ["open", "cancelled"],
  open: ["claimed", "expired", "cancelled"],
  claimed: ["claimed", "open", "pending_settlement", "expired", "cancelled"],
  pending_settlement: ["completed", "claimed"],
  completed: ["settled"],
  settled: [],
  expired: [],
  cancelled: [],
};

const bountyStatusSchema = z.enum(Object.values(BountyStatus) as [BountyStatus, ...BountyStatus[]]);

/** A bounty: credits escrowed by its creator for whoever completes the work. */
export const bountySchema = z.object({
  bountyId: z.string().min(1),
  title: z.string().min(1),
  amount: z.number().int().positive(),
  creator: z.string().min(1),
  status: bountyStatusSchema,
  deadline: z.number().int(),
  reservationId: z.string().min(1).optional(),
  claimId: z.string().min(1).optional(),
  claimedBy: z.string().min(1).optional(),
  fulfilledByContributionId: z.string().min(1).optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  version: z.number().int().min(1),
});

/** A bounty. */
export type Bounty = z.infer<typeof bountySchema>;

/** Where a claim stands. */
export type ClaimStatus = "active" | "released" | "expired" | "completed";

/** A claim on a target (`"bounty:<id>"`) by one agent, under a lease. */
export const claimSchema = z.object({
  claimId: z.string().min(1),
  targetRef: z.string().min(1),
  agentId: z.string().min(1),
  status: z.enum(["active", "released", "expired", "completed"]),
  leaseExpiresAt: z.number().int(),
});

/** A claim. */
export type Claim = z.infer<typeof claimSchema>;

/** Where a credit reservation stands. */
export type ReservationStatus = "held" | "captured" | "voided" | "expired";

/** Credits held from an agent's balance until captured to a recipient or voided. */
export const reservationSchema = z.object({
  reservationId: z.string().min(1),
  agentId: z.string().min(1),
  amount: z.number().int().positive(),
  status: z.enum(["held", "captured", "voided", "expired"]),
  expiresAt: z.number().int(),
  capturedTo: z.string().min(1).optional(),
});

/** A reservation. */
export type Reservation = z.infer<typeof reservationSchema>;

/** An agent's credits. */
export interface Balance {
  readonly available: number;
  readonly reserved: number;
}

/** The target reference of a bounty's claims. */
export function bountyTarget(bountyId: string): string {
  return `bounty:${bountyId}`;
}

/** The id of a bounty created without one: derived from its saga, so retries never create two. */
export function defaultBountyId(sagaId: string): string {
  return `bounty-${sagaId}`;
}
