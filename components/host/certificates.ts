/**
 * `K3sCertificates`: when a node's k3s certificates expire, read from k3s on create and on every refresh;
 * rotated by `up` within the window (`k3s.certificates.rotateDaysBefore`). The provider lives in
 * ./certificates-provider.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import { type HostConnection, transportTarget } from "./connection";
import { k3sCertificatesProvider, type RotationPlan } from "./certificates-provider";
import { DynamicResource } from "../dynamic-resource";

export interface K3sCertificatesArgs {
    readonly connection: HostConnection;
    /** k3s's data directory (`k3s.dataDir`). */
    readonly dataDir: string;
    /** Where `k3s kubectl` answers for this node: itself for a server, the first server for an agent. */
    readonly kubectl: HostConnection;
    /** How to rotate the certificates once they are within the window. */
    readonly rotation: RotationPlan;
}

export class K3sCertificates extends DynamicResource {
    /** The earliest expiry of the node's certificates (RFC 3339, UTC), as of the last up or refresh. */
    declare public readonly expiresAt: pulumi.Output<string>;

    constructor(name: string, args: K3sCertificatesArgs, opts?: pulumi.CustomResourceOptions) {
        const inputs: pulumi.Inputs = {
            target: transportTarget(args.connection),
            dataDir: args.dataDir,
            kubectlTarget: transportTarget(args.kubectl),
            rotation: args.rotation,
            providerVersion: providerVersion(k3sCertificatesProvider),
            expiresAt: undefined,
            count: undefined,
        };
        super(
            k3sCertificatesProvider,
            name,
            inputs,
            { ...opts, additionalSecretOutputs: ["target", "kubectlTarget"] },
            "k3s-buildkit",
            "K3sCertificates",
        );
    }
}
