/**
 * `BuildkitCacheReport`: the in-cluster daemons' cache usage, read from the report CronJob's newest pod
 * (./cache-report.ts) on every up and `pulumi refresh`. The provider lives in ./cache-report-provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CacheUsage } from "../host/cache-usage-provider";
import { providerVersion } from "../provider-version";
import { cacheReportProvider } from "./cache-report-provider";
import { DynamicResource } from "../dynamic-resource";

export interface BuildkitCacheReportArgs {
    /** Secret. */
    readonly kubeconfig: pulumi.Input<string>;
    readonly namespace: string;
    /** The daemon pods the report covers. */
    readonly daemons: readonly string[];
}

export class BuildkitCacheReport extends DynamicResource {
    /** The report's finish time (RFC 3339); empty before the CronJob's first run. */
    declare public readonly reportedAt: pulumi.Output<string>;
    /** Per daemon pod: `available`, `totalBytes`, `reclaimableBytes`, `records`. */
    declare public readonly usage: pulumi.Output<Record<string, CacheUsage>>;

    constructor(name: string, args: BuildkitCacheReportArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            cacheReportProvider,
            name,
            {
                kubeconfig: pulumi.secret(args.kubeconfig),
                namespace: args.namespace,
                daemons: [...args.daemons],
                providerVersion: providerVersion(cacheReportProvider),
                reportedAt: undefined,
                usage: undefined,
            },
            { ...opts, additionalSecretOutputs: ["kubeconfig"] },
            "k3s-buildkit",
            "BuildkitCacheReport",
        );
    }
}
