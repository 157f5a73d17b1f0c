/**
 * `HostFile`: one file on a host as a Pulumi dynamic resource with drift detection. The provider and
 * its pure parts live in ./host-file-provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import { type HostConnection, transportTarget } from "./connection";
import { hostFileProvider } from "./host-file-provider";
import { DynamicResource } from "../dynamic-resource";

export interface HostFileArgs {
    /** The host the file lives on. */
    readonly connection: HostConnection;
    /** Absolute path of the file. Parent directories are created as needed (mode 0755, owned by root). */
    readonly path: pulumi.Input<string>;
    /** File content (UTF-8). May be a secret Output. */
    readonly content: pulumi.Input<string>;
    /**
     * For a secret content: the same file with each secret value replaced by `[secret]`, kept as a plain
     * input so `pulumi preview` and `npm run render` show its structure and every other key. Never written.
     */
    readonly preview?: pulumi.Input<string>;
    /** Octal mode. @default "0644" */
    readonly mode?: pulumi.Input<string>;
    /** Owning user. @default "root" */
    readonly owner?: pulumi.Input<string>;
    /** Owning group. @default "root" */
    readonly group?: pulumi.Input<string>;
}

/** A file on a host, managed with drift detection. */
export class HostFile extends DynamicResource {
    /** Absolute path of the file. */
    declare public readonly path: pulumi.Output<string>;
    /** sha256 of the content on the host (secret). */
    declare public readonly sha256: pulumi.Output<string>;
    /** Mode on the host, 4 octal digits. */
    declare public readonly mode: pulumi.Output<string>;
    /** False when a refresh found the file missing. */
    declare public readonly present: pulumi.Output<boolean>;

    constructor(name: string, args: HostFileArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs: pulumi.Inputs = {
            target: transportTarget(args.connection),
            path: args.path,
            content: args.content,
            ...(args.preview === undefined ? {} : { preview: args.preview }),
            mode: args.mode ?? "0644",
            owner: args.owner ?? "root",
            group: args.group ?? "root",
            providerVersion: providerVersion(hostFileProvider),
            present: undefined,
            sha256: undefined,
        };
        super(
            hostFileProvider,
            name,
            inputs,
            {
                ...opts,
                additionalSecretOutputs: ["target", "sha256"],
            },
            "k3s-buildkit",
            "HostFile",
        );
    }
}
