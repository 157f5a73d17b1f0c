/**
 * The FirstServer dynamic provider; no run-time import of the Pulumi SDK (see ./runner.ts).
 *
 * `FirstServer` records which host created the cluster: every other node joins through its address, and
 * with embedded etcd it holds the cluster-init role. Removing or replacing that host in stack config
 * (a different `hosts[0]`) is refused at `check`, so preview and up stop before any node changes.
 * It touches no host: create, update and delete only record.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface FirstServerInputs {
    /** `hosts[0].name`. */
    readonly host: string;
    /** Its `apiAddress`: the join address of every other node (may change: an address change rolls the nodes). */
    readonly address: string;
}

/** Why the first server may not become `news` (the cluster was created by `olds`), or undefined. */
export function firstServerProblem(olds: Partial<FirstServerInputs> | undefined, news: FirstServerInputs): string | undefined {
    if (olds?.host === undefined || olds.host === news.host) return undefined;
    return (
        `hosts[0] is now ${JSON.stringify(news.host)}, but this cluster's first server is ${JSON.stringify(olds.host)}: ` +
        `every other node joins through it, and it cannot be removed or replaced from stack config. ` +
        `Keep ${JSON.stringify(olds.host)} first in hosts; to retire that machine, see docs/runbooks.md ("Removing or replacing a server"). Nothing was changed.`
    );
}

export const firstServerProvider: pulumi.dynamic.ResourceProvider<FirstServerInputs, FirstServerInputs> = {
    async check(olds, news) {
        const problem = firstServerProblem(olds, news);
        return { inputs: news, failures: problem === undefined ? [] : [{ property: "host", reason: problem }] };
    },
    async diff(_id, olds, news) {
        return { changes: olds.host !== news.host || olds.address !== news.address };
    },
    async create(inputs) {
        return { id: inputs.host, outs: inputs };
    },
    async update(_id, _olds, news) {
        return { outs: news };
    },
};
