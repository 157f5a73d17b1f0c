/** What a host's install components need of the host they run on. */
import type * as pulumi from "@pulumi/pulumi";
import type { HostConnection } from "./connection";

export interface HostHandle {
    /** Host name from stack config. */
    readonly name: string;
    /** How to reach the host. */
    readonly connection: HostConnection;
    /** The preflight step: every step on the host waits for it. */
    readonly ready: pulumi.Resource;
    /** `amd64` or `arm64`, as the preflight found it. */
    readonly arch: pulumi.Output<string>;
    /** What the preflight found: BuildKit's disk (bytes) and the CPUs, which BuildKit's defaults derive from. */
    readonly facts: pulumi.Output<{ readonly diskBytes: number; readonly cpus: number }>;
}
