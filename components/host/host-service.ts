/**
 * `SystemdService`: a systemd unit's enabled/active state as a dynamic resource with drift detection.
 * The provider lives in ./host-service-provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import { type HostConnection, transportTarget } from "./connection";
import { systemdServiceProvider } from "./host-service-provider";
import { DynamicResource } from "../dynamic-resource";

export interface SystemdServiceArgs {
    readonly connection: HostConnection;
    /** Unit name, e.g. `buildkit.socket`. */
    readonly unit: pulumi.Input<string>;
    /** Enabled at boot. @default true */
    readonly enabled?: pulumi.Input<boolean>;
    /** Running now. @default true */
    readonly active?: pulumi.Input<boolean>;
    /** Values whose change restarts the unit (e.g. config file checksums). @default [] */
    readonly restartTriggers?: pulumi.Input<pulumi.Input<string>[]>;
    /** On delete, stop and disable the unit. @default true */
    readonly stopOnDelete?: pulumi.Input<boolean>;
    /**
     * Longest a start or restart may take; past it the step fails with the unit's last log lines, and
     * no step waits forever on a unit that never reports ready. 0: unbounded. @default 120
     */
    readonly startTimeoutSeconds?: pulumi.Input<number>;
    /**
     * A BuildKit daemon: before a restart, wait for the builds running on it (read from its build history
     * with `buildctl debug histories`), at most `timeoutSeconds`; past it, restart anyway. @default no wait
     */
    readonly waitForBuilds?: { readonly buildkitAddress: string; readonly timeoutSeconds: number };
    /**
     * The unit's readiness check, run in the same remote step once it is (re)started: the step (and what
     * depends on it) is done when the daemon answers, without one more step. @default none
     */
    readonly readyScript?: pulumi.Input<string>;
}

/** The enabled/active state of a systemd unit, managed with drift detection. */
export class SystemdService extends DynamicResource {
    declare public readonly unit: pulumi.Output<string>;
    declare public readonly enabled: pulumi.Output<boolean>;
    declare public readonly active: pulumi.Output<boolean>;

    constructor(name: string, args: SystemdServiceArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs: pulumi.Inputs = {
            target: transportTarget(args.connection),
            unit: args.unit,
            enabled: args.enabled ?? true,
            active: args.active ?? true,
            restartTriggers: args.restartTriggers ?? [],
            stopOnDelete: args.stopOnDelete ?? true,
            startTimeoutSeconds: args.startTimeoutSeconds ?? 120,
            ...(args.waitForBuilds === undefined ? {} : { waitForBuilds: args.waitForBuilds }),
            ...(args.readyScript === undefined ? {} : { readyScript: args.readyScript }),
            providerVersion: providerVersion(systemdServiceProvider),
        };
        super(systemdServiceProvider, name, inputs, { ...opts, additionalSecretOutputs: ["target"] }, "k3s-buildkit", "SystemdService");
    }
}
