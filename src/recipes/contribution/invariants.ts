import type { Violation } from "../bounty/invariants.js";
import type { ContributionPorts } from "./operations.js";

/**
 * Checks I7: every routed contribution has exactly one handoff per target role, none missing, none
 * duplicated, none for a role it was not routed to.
 */
export async function checkContributionInvariants(
  ports: ContributionPorts,
): Promise<readonly Violation[]> {
  const contributions = await ports.contributions.list(ports.contributions.store.handle);
  const handoffs = await ports.handoffs.list(ports.handoffs.store.handle);
  const violations: Violation[] = [];
  for (const c of contributions) {
    const mine = handoffs.filter((h) => h.sourceCid === c.cid);
    for (const role of c.routes) {
      const count = mine.filter((h) => h.toRole === role).length;
      if (count !== 1)
        violations.push({
          invariant: "I7",
          message: `contribution ${c.cid} has ${count} handoffs to ${role}, not 1`,
        });
    }
    for (const h of mine) {
      if (!c.routes.includes(h.toRole))
        violations.push({
          invariant: "I7",
          message: `handoff ${h.handoffId} routes ${c.cid} to ${h.toRole}, which it was not routed to`,
        });
    }
  }
  const cids = new Set(contributions.map((c) => c.cid));
  for (const h of handoffs) {
    if (!cids.has(h.sourceCid))
      violations.push({
        invariant: "I7",
        message: `handoff ${h.handoffId} points at a missing contribution ${h.sourceCid}`,
      });
  }
  return violations;
}
