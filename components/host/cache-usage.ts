/**
 * `BuildkitCacheUsage`: a host daemon's build cache size, read from BuildKit on create and on every
 * refresh. The provider lives in ./cache-usage-provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import { type HostConnection, transportTarget } from "./connection";
import { buildkitCacheUsageProvider, type CacheUsage } from "./cache-usage-provider";
import { DynamicResource } from "../dynamic-resource";

export interface BuildkitCacheUsageArgs {
    readonly connection: HostConnection;
    /** The daemon's address. */
    readonly address: string;
}

export class BuildkitCacheUsage extends DynamicResource {
    declare public readonly available: pulumi.Output<boolean>;
    declare public readonly totalBytes: pulumi.Output<number>;
    declare public readonly reclaimableBytes: pulumi.Output<number>;
    declare public readonly records: pulumi.Output<number>;

    /** All of it, for the stack output. */
    public get usage(): pulumi.Output<CacheUsage> {
        return pulumi
            .all([this.available, this.totalBytes, this.reclaimableBytes, this.records])
            .apply(([available, totalBytes, reclaimableBytes, records]) => ({ available, totalBytes, reclaimableBytes, records }));
    }

    constructor(name: string, args: BuildkitCacheUsageArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs: pulumi.Inputs = {
            target: transportTarget(args.connection),
            address: args.address,
            providerVersion: providerVersion(buildkitCacheUsageProvider),
            available: undefined,
            totalBytes: undefined,
            reclaimableBytes: undefined,
            records: undefined,
        };
        super(
            buildkitCacheUsageProvider,
            name,
            inputs,
            { ...opts, additionalSecretOutputs: ["target"] },
            "k3s-buildkit",
            "BuildkitCacheUsage",
        );
    }
}
