import { createHash } from "node:crypto";
import { z } from "zod";

/** What a contribution says: immutable once written. */
export const contributionContentSchema = z.object({
  author: z.string().min(1),
  kind: z.string().min(1),
  body: z.json(),
  /** The roles the contribution is routed to; each gets exactly one handoff. */
  routes: z.array(z.string().min(1)),
});

/** What a contribution says. */
export type ContributionContent = z.infer<typeof contributionContentSchema>;

/** A contribution: its content and its content address. */
export interface Contribution extends ContributionContent {
  /** The content address, `c_<sha256>` of the canonical content. */
  readonly cid: string;
  readonly createdAt: number;
}

/** Where a handoff stands. */
export type HandoffStatus = "pending_pickup" | "delivered" | "replied" | "expired";

/** The notice that routes a contribution to one downstream role. */
export interface Handoff {
  /** Derived from the contribution and the role, so retries never duplicate it. */
  readonly handoffId: string;
  readonly sourceCid: string;
  readonly toRole: string;
  readonly status: HandoffStatus;
  readonly createdAt: number;
}

/** JSON with object keys sorted, so equal content always hashes alike. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The content address of a contribution; the routes are sorted and deduplicated first. */
export function contentAddress(content: ContributionContent): string {
  return `c_${sha256(canonical({ ...content, routes: normalizeRoutes(content.routes) }))}`;
}

/** The routes, sorted and without duplicates: the order a contribution lists them in does not matter. */
export function normalizeRoutes(routes: readonly string[]): string[] {
  return [...new Set(routes)].sort();
}

/** The id of the handoff of `cid` to `role`: the same on every retry, in every process. */
export function handoffId(cid: string, role: string): string {
  return `h_${sha256(`${cid}\u0000${role}`).slice(0, 40)}`;
}
