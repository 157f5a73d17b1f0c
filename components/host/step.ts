/**
 * Install steps on a host: `HostStep` (a script fed on stdin to the runner, with an undo script) and
 * `HostUpload` (a local file copied to the host), as dynamic resources. The providers and their
 * semantics live in ./step-provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import { type HostConnection, transportTarget } from "./connection";
import { fileSha256, type HostStepInputs, hostStepProvider, hostUploadProvider } from "./step-provider";
import { DynamicResource } from "../dynamic-resource";

export interface HostStepArgs {
    readonly connection: HostConnection;
    /** Script run on create, and again when it (or the host) changes; fed on stdin. */
    readonly create: pulumi.Input<string>;
    /** Script run on delete (`pulumi destroy`, or before a replacement). Omit for steps that leave nothing to undo. */
    readonly delete?: string;
    /** Values whose change replaces the step (delete, then create again). @default [] */
    readonly triggers?: pulumi.Input<unknown[]>;
    /** The script carries a secret: it is kept as a secret and its stderr is not logged. @default false */
    readonly secretScript?: boolean;
    /** The step prints a secret: stdout is a secret output and stderr is not logged. @default false */
    readonly secretOutput?: boolean;
    /** A version the step installs that may only move one minor forward (see `HostStepInputs.versionGate`). */
    readonly versionGate?: HostStepInputs["versionGate"];
    /** The step asks the cluster from its host: another server is no reason to run it again. @default true */
    readonly rerunOnNewHost?: boolean;
}

/** One install step on a host. */
export class HostStep extends DynamicResource {
    /** What the create script printed on stdout (secret when `secretOutput`). */
    declare public readonly stdout: pulumi.Output<string>;

    constructor(name: string, args: HostStepArgs, opts?: pulumi.CustomResourceOptions) {
        const quiet = args.secretScript === true || args.secretOutput === true;
        const inputs: pulumi.Inputs = {
            target: transportTarget(args.connection),
            create: args.secretScript === true ? pulumi.secret(args.create) : args.create,
            delete: args.delete ?? "",
            triggers: args.triggers ?? [],
            quiet,
            providerVersion: providerVersion(hostStepProvider),
            ...(args.versionGate === undefined ? {} : { versionGate: args.versionGate }),
            ...(args.rerunOnNewHost === false ? { rerunOnNewHost: false } : {}),
            stdout: undefined,
        };
        super(
            hostStepProvider,
            name,
            inputs,
            { ...opts, additionalSecretOutputs: ["target", ...(args.secretOutput === true ? ["stdout"] : [])] },
            "k3s-buildkit",
            "HostStep",
        );
    }
}

/** Shorthand used by the host components. */
export function hostCommand(name: string, args: HostStepArgs, opts: pulumi.CustomResourceOptions): HostStep {
    return new HostStep(name, args, opts);
}

export interface HostUploadArgs {
    readonly connection: HostConnection;
    /** File on the machine that runs Pulumi. */
    readonly source: string;
    /** Absolute destination path on the host. */
    readonly remotePath: string;
}

/** A local file copied to a host; a changed file (by sha256) is copied again. */
export class HostUpload extends DynamicResource {
    declare public readonly sha256: pulumi.Output<string>;

    constructor(name: string, args: HostUploadArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs: pulumi.Inputs = {
            target: transportTarget(args.connection),
            source: args.source,
            // "" when the file cannot be read here: the provider's check refuses it, naming the file.
            sha256: pulumi.output(fileSha256(args.source).catch(() => "")),
            remotePath: args.remotePath,
            providerVersion: providerVersion(hostUploadProvider),
        };
        super(hostUploadProvider, name, inputs, { ...opts, additionalSecretOutputs: ["target"] }, "k3s-buildkit", "HostUpload");
    }
}
