/**
 * `BuildkitMutualTls`: the in-cluster daemon's CA, server and client certificates, issued by the program
 * (./mutual-tls.ts) and re-issued before they expire. Keys are secret outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerVersion } from "../provider-version";
import { mutualTlsProvider, type TlsPlan } from "./mutual-tls";
import { DynamicResource } from "../dynamic-resource";

type Three = { ca: string; server: string; client: string };

export class BuildkitMutualTls extends DynamicResource {
    /** PEM certificates (not secret). */
    declare public readonly certs: pulumi.Output<Three>;
    /** PEM private keys (secret). */
    declare public readonly keys: pulumi.Output<Three>;
    /** When each certificate expires (RFC 3339). */
    declare public readonly notAfter: pulumi.Output<Three>;
    /** The next re-issue (RFC 3339). */
    declare public readonly renewAt: pulumi.Output<string>;

    constructor(name: string, plan: TlsPlan, opts?: pulumi.CustomResourceOptions) {
        super(
            mutualTlsProvider,
            name,
            {
                plan,
                providerVersion: providerVersion(mutualTlsProvider),
                certs: undefined,
                keys: undefined,
                notAfter: undefined,
                renewAt: undefined,
            },
            { ...opts, additionalSecretOutputs: ["keys"] },
            "k3s-buildkit",
            "BuildkitMutualTls",
        );
    }
}
