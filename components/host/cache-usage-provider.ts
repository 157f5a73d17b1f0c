/**
 * The BuildkitCacheUsage dynamic provider and its pure parts; no run-time import of the Pulumi SDK (see
 * ./runner.ts).
 *
 * `BuildkitCacheUsage`: how much disk a host daemon's build cache takes, as BuildKit itself counts it
 * (`buildctl du --format '{{json .}}'`, summed as `buildctl du` sums it: records of positive size, the
 * ones not in use reclaimable). Read when created and on every `pulumi refresh`; information, never drift,
 * and it changes nothing on the host. A daemon that does not answer reads as unavailable, not an error,
 * so a refresh still reports the rest (a stopped buildkit.service, say).
 */
import type * as pulumi from "@pulumi/pulumi";
import { STATE_ONLY } from "./host-file-provider";
import { targetChanges, targetLabel, type TransportTarget } from "./runner";
import { renderScript } from "../render/shell";
import { runScript } from "./transport";

export interface BuildkitCacheUsageInputs {
    readonly target: TransportTarget;
    /** The daemon's address (`unix:///run/buildkit/buildkitd.sock`). */
    readonly address: string;
    readonly providerVersion: string;
}

/** What BuildKit reported, as of the last create or refresh. */
export interface CacheUsage {
    /** Whether the daemon answered; when not, the sizes are 0. */
    readonly available: boolean;
    /** Bytes of all cache records. */
    readonly totalBytes: number;
    /** Bytes of the records not in use (what a prune can free). */
    readonly reclaimableBytes: number;
    /** How many cache records. */
    readonly records: number;
}

export type BuildkitCacheUsageState = BuildkitCacheUsageInputs & CacheUsage;

export function cacheUsageScript(address: string): string {
    return renderScript(
        `buildctl --addr "$BUILDKIT_ADDR" du --format '{{json .}}' 2>/dev/null || echo unavailable
`,
        { BUILDKIT_ADDR: address },
    );
}

/** `buildctl du`'s JSON records, summed the way its summary sums them. */
export function parseCacheUsage(out: string): CacheUsage {
    const line = out
        .trim()
        .split("\n")
        .reverse()
        .find((l) => l.startsWith("[") || l === "null");
    if (line === undefined) return { available: false, totalBytes: 0, reclaimableBytes: 0, records: 0 };
    const records = (JSON.parse(line) as { size?: unknown; inUse?: unknown }[] | null) ?? [];
    let total = 0;
    let reclaimable = 0;
    for (const r of records) {
        const size = typeof r.size === "number" && r.size > 0 ? r.size : 0;
        total += size;
        if (r.inUse !== true) reclaimable += size;
    }
    return { available: true, totalBytes: total, reclaimableBytes: reclaimable, records: records.length };
}

export function cacheUsageChanges(olds: BuildkitCacheUsageInputs, news: BuildkitCacheUsageInputs): string[] {
    const changes: string[] = [];
    if (olds.address !== news.address) changes.push("address");
    if (olds.providerVersion !== news.providerVersion) changes.push("providerVersion");
    changes.push(...targetChanges(olds.target, news.target));
    return changes;
}

const readUsage = async (i: BuildkitCacheUsageInputs) =>
    parseCacheUsage(await runScript(i.target, cacheUsageScript(i.address), "reading BuildKit's cache usage"));

export const buildkitCacheUsageProvider: pulumi.dynamic.ResourceProvider<BuildkitCacheUsageInputs, BuildkitCacheUsageState> = {
    async diff(_id, olds, news) {
        return { changes: cacheUsageChanges(olds, news).length > 0 };
    },
    async create(inputs) {
        return { id: `${targetLabel(inputs.target)}:buildkit-cache-usage`, outs: { ...inputs, ...(await readUsage(inputs)) } };
    },
    async read(id, props) {
        if (props === undefined) throw new Error(`BuildkitCacheUsage ${id}: cannot read without state`);
        return { id, props: { ...props, ...(await readUsage(props)) } };
    },
    async update(_id, olds, news) {
        if (cacheUsageChanges(olds, news).every((c) => STATE_ONLY.includes(c))) return { outs: { ...olds, ...news } };
        return { outs: { ...news, ...(await readUsage(news)) } };
    },
};
