/**
 * The BuildkitCacheReport dynamic provider: reads the newest successful cache report (the termination
 * message of the report CronJob's newest pod that exited 0, ./cache-report.ts) on create, on update and on
 * every `pulumi refresh`. Information, never drift: it changes nothing in the cluster. No report yet (the
 * CronJob has not run since the daemon was installed) reads as every daemon unavailable with `reportedAt`
 * empty, not as an error. Imports nothing from Pulumi at run time (see ../host/runner.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CacheUsage } from "../host/cache-usage-provider";
import { kubeAccess, kubeGet } from "../builds/kube-client";
import { cacheReportLabels, parseCacheReport } from "./cache-report";

export interface CacheReportInputs {
    /** Secret. */
    readonly kubeconfig: string;
    readonly namespace: string;
    /** The daemon pods the report covers (`buildkitd-0` …). */
    readonly daemons: string[];
    readonly providerVersion: string;
}

export interface CacheReportOutputs extends CacheReportInputs {
    /** When the report read was made (its pod's finish time, RFC 3339); empty when there is none yet. */
    readonly reportedAt: string;
    /** Per daemon pod, as `hosts.<name>.buildkitCacheUsage` for a host daemon. */
    readonly usage: Record<string, CacheUsage>;
}

interface Terminated {
    readonly exitCode: number;
    readonly message?: string;
    readonly finishedAt?: string;
}
interface Pod {
    readonly status?: { readonly containerStatuses?: { readonly state?: { readonly terminated?: Terminated } }[] };
}

/** The newest report among the pods: the latest finish of a container that exited 0 with a message. */
export function newestReport(pods: readonly Pod[]): { message: string; finishedAt: string } | undefined {
    let best: { message: string; finishedAt: string } | undefined;
    for (const p of pods) {
        const t = p.status?.containerStatuses?.[0]?.state?.terminated;
        if (t === undefined || t.exitCode !== 0 || t.message === undefined || t.message.trim() === "") continue;
        const finishedAt = t.finishedAt ?? "";
        if (best === undefined || finishedAt > best.finishedAt) best = { message: t.message, finishedAt };
    }
    return best;
}

const selector = Object.entries(cacheReportLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** Lists the report pods and reads the newest report, for the daemons expected. */
export async function readCacheReport(i: CacheReportInputs): Promise<Pick<CacheReportOutputs, "reportedAt" | "usage">> {
    const list = await kubeGet<{ items: Pod[] }>(
        kubeAccess(i.kubeconfig),
        `/api/v1/namespaces/${encodeURIComponent(i.namespace)}/pods?labelSelector=${encodeURIComponent(selector)}`,
    );
    const report = newestReport(list?.items ?? []);
    return { reportedAt: report?.finishedAt ?? "", usage: parseCacheReport(report?.message, i.daemons) };
}

export const cacheReportProvider: pulumi.dynamic.ResourceProvider<CacheReportInputs, CacheReportOutputs> = {
    async diff(_id, olds, news) {
        const changes =
            olds.kubeconfig !== news.kubeconfig ||
            olds.namespace !== news.namespace ||
            olds.providerVersion !== news.providerVersion ||
            olds.daemons.join(",") !== news.daemons.join(",");
        return { changes, ...(olds.namespace === news.namespace ? {} : { replaces: ["namespace"] }) };
    },
    async create(inputs) {
        return { id: `${inputs.namespace}/cache-report`, outs: { ...inputs, ...(await readCacheReport(inputs)) } };
    },
    async read(id, props) {
        if (props === undefined) throw new Error(`BuildkitCacheReport ${id}: cannot read without state`);
        return { id, props: { ...props, ...(await readCacheReport(props)) } };
    },
    async update(_id, _olds, news) {
        return { outs: { ...news, ...(await readCacheReport(news)) } };
    },
};
