/** The order in which hosts restart k3s. Pure. */

/**
 * The rollout as waves of host indexes: each server alone, in config order (the first server first), then
 * the agents in batches of `agentConcurrency`. Each wave's drains and restarts wait for the previous
 * wave's nodes to be Ready at the target version.
 */
export function rolloutWaves(hosts: readonly { role: "server" | "agent" }[], agentConcurrency: number): number[][] {
    const servers = hosts.flatMap((h, i) => (h.role === "server" ? [[i]] : []));
    const agents = hosts.flatMap((h, i) => (h.role === "agent" ? [i] : []));
    const batches: number[][] = [];
    for (let b = 0; b < agents.length; b += agentConcurrency) batches.push(agents.slice(b, b + agentConcurrency));
    return [...servers, ...batches];
}
