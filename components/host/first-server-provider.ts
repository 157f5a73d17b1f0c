/**
 * The FirstServer dynamic provider; no run-time import of the Pulumi SDK (see ./runner.ts).
 *
 * `FirstServer` records which host is the cluster's first server: without a registration address every
 * other node joins through its address, and with embedded etcd it holds the cluster-init role. Removing or
 * replacing that host in stack config (a different `hosts[0]`) is refused at `check`, so preview and up
 * stop before any node changes, unless the cluster has a registration address (`k3s.registrationAddress`,
 * recorded by the previous up and unchanged) and the new first host is one of the cluster's servers
 * already (a new machine there would start a cluster of its own). It touches no host: create, update and
 * delete only record.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface FirstServerInputs {
    /** `hosts[0].name`. */
    readonly host: string;
    /** Its `apiAddress`: the join address of every other node (may change: an address change rolls the nodes). */
    readonly address: string;
    /** `k3s.registrationAddress`, when the stack has one: where nodes join instead. */
    readonly registrationAddress?: string;
    /** The names of the stack's servers. Absent in state written before it existed. */
    readonly servers?: readonly string[];
}

/** Why the first server may not become `news` (the cluster was created by `olds`), or undefined. */
export function firstServerProblem(olds: Partial<FirstServerInputs> | undefined, news: FirstServerInputs): string | undefined {
    if (olds?.host === undefined || olds.host === news.host) return undefined;
    const was = JSON.stringify(olds.host);
    const now = JSON.stringify(news.host);
    const head = `hosts[0] is now ${now}, but this cluster's first server is ${was}`;
    if (olds.registrationAddress === undefined || olds.registrationAddress !== news.registrationAddress) {
        return (
            `${head}: every other node joins through it, and it cannot be removed or replaced from stack config` +
            (olds.registrationAddress === undefined
                ? ` without a registration address. Keep ${was} first in hosts; set k3s.registrationAddress (a DNS name, VIP or load balancer in front of every server) and run pulumi up first, then replace it`
                : `: k3s.registrationAddress changed in the same run (from ${JSON.stringify(olds.registrationAddress)}). Replace the first server with the address unchanged`) +
            `; see docs/runbooks.md ("Removing or replacing a server"). Nothing was changed.`
        );
    }
    if (!(olds.servers ?? []).includes(news.host)) {
        return (
            `${head}: the new first server must be one of the cluster's servers already (${(olds.servers ?? []).map((n) => JSON.stringify(n)).join(", ")}), ` +
            `or it would start a cluster of its own. Add the new machine after them in hosts, run pulumi up, then remove ${was}; see docs/runbooks.md ("Removing or replacing a server"). Nothing was changed.`
        );
    }
    return undefined;
}

export const firstServerProvider: pulumi.dynamic.ResourceProvider<FirstServerInputs, FirstServerInputs> = {
    async check(olds, news) {
        const problem = firstServerProblem(olds, news);
        return { inputs: news, failures: problem === undefined ? [] : [{ property: "host", reason: problem }] };
    },
    async diff(_id, olds, news) {
        return {
            changes:
                olds.host !== news.host ||
                olds.address !== news.address ||
                olds.registrationAddress !== news.registrationAddress ||
                JSON.stringify(olds.servers) !== JSON.stringify(news.servers),
        };
    },
    async create(inputs) {
        return { id: inputs.host, outs: inputs };
    },
    async update(_id, _olds, news) {
        return { outs: news };
    },
};
