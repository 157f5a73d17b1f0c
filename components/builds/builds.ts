/**
 * `Builds` (`k3s-buildkit:build:Builds`): the stack's in-cluster image builds, one `ImageBuild` each,
 * under the cluster. It holds what every build shares (the provider, the daemon, registries, secrets) so
 * `Cluster` hands over one object instead of wiring each build itself.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedConfig } from "../config";
import { ImageBuild, type ImageBuildArgs } from "./image-build";
import type { BuildOutputs } from "./outputs";

export const IMAGE_BUILD_TYPE = "k3s-buildkit:build:ImageBuild";

export interface BuildsArgs {
    /** Kubernetes provider of the cluster the daemon runs in. */
    readonly provider: k8s.Provider;
    /** The same cluster's kubeconfig (secret): each build's result reads its Job with it. */
    readonly kubeconfig: pulumi.Input<string>;
    /** The builds, in stack order (`builds`). */
    readonly builds: ResolvedConfig["builds"];
    /** Registries by host (`registries`): mirrors, plain HTTP, credentials' user names. */
    readonly registries: ResolvedConfig["registries"];
    /** The in-cluster daemon the Jobs talk to. */
    readonly daemon: ImageBuildArgs["daemon"] & pulumi.Resource;
    /** Values of `buildSecrets` (secret). */
    readonly buildSecrets: pulumi.Input<Record<string, string>>;
    /**
     * URNs each build had before it sat under this component, by build name (it was a child of the
     * cluster, and before that of the stack): aliases, so the engine moves it in state.
     * @default no aliases
     */
    readonly previousUrns?: (buildName: string) => pulumi.Input<string>[];
}

export class Builds extends pulumi.ComponentResource {
    /** Each build's Job, digest and `repository@sha256:…` reference, by build name. */
    public readonly results: Record<string, BuildOutputs>;

    constructor(name: string, args: BuildsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:build:Builds", name, {}, opts);
        const { daemon } = args;
        this.results = Object.fromEntries(
            args.builds.map((b) => {
                const build = new ImageBuild(
                    b.name,
                    {
                        provider: args.provider,
                        kubeconfig: args.kubeconfig,
                        build: b,
                        registries: args.registries,
                        daemon: {
                            namespace: daemon.namespace,
                            replicas: daemon.replicas,
                            image: daemon.image,
                            clientTlsSecretName: daemon.clientTlsSecretName,
                            registryAuthSecretName: daemon.registryAuthSecretName,
                        },
                        buildSecrets: args.buildSecrets,
                        dependsOn: [daemon],
                    },
                    { parent: this, aliases: args.previousUrns?.(b.name) ?? [] },
                );
                const result: BuildOutputs = { kind: "cluster", jobName: build.jobName, digest: build.digest, ref: build.ref };
                return [b.name, result] as const;
            }),
        );
        this.registerOutputs({ results: this.results });
    }
}
