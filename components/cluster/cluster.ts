/**
 * `Cluster` (`k3s-buildkit:cluster:Cluster`): everything that goes through the Kubernetes API, under one
 * component: the provider made from the kubeconfig (the first server's, or one brought along), passed
 * explicitly to every Kubernetes child; the in-cluster buildkitd (when `cluster.enabled`); the build Jobs;
 * and the Deployments that run built images by digest.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { moved } from "../aliases";
import { Builds, IMAGE_BUILD_TYPE } from "../builds/builds";
import type { ResolvedConfig, StackSecrets } from "../config";
import type { BuildOutputs } from "../builds/outputs";
import { BuildkitDaemon, type ClientTls, type DaemonCacheUsage } from "./buildkit-daemon";
import { deploymentSpec, workloadLabels } from "./deployment-spec";

/** How to reach the in-cluster daemon. */
export interface ClusterOutputs {
    readonly namespace: string;
    /** `kube-pod://buildkitd-0?namespace=…` (buildctl with a kubeconfig). */
    readonly kubePodAddress: string;
    /** `tcp://buildkitd.<ns>.svc:1234` (mutual TLS; from Jobs, or 127.0.0.1:1234 through a port-forward). */
    readonly serviceAddress: string;
    /** Client certificate bundle (secret). */
    readonly clientTls: pulumi.Output<ClientTls>;
    /** The daemons' cache usage as of the newest report; undefined when the report is off. */
    readonly cacheUsage?: pulumi.Output<DaemonCacheUsage>;
}

export interface ClusterArgs {
    /** What the cluster layer follows: the daemon, BuildKit's settings, registries, builds, Deployments. */
    readonly settings: Pick<ResolvedConfig, "cluster" | "buildkit" | "registries" | "builds" | "deployments">;
    /** Registry passwords and build secrets (secret). */
    readonly secrets: Pick<StackSecrets, "registryPasswords" | "buildSecrets">;
    /** Proxy variables for the daemon (the stack proxy). */
    readonly proxyEnv: Readonly<Record<string, string>>;
    /** Kubeconfig of the cluster (secret). */
    readonly kubeconfig: pulumi.Input<string>;
    /** Where the daemon keeps its state on nodes without a storage class (a hostPath). */
    readonly hostStateDir: string;
    /** Host builds by name, for Deployments that run them. */
    readonly hostBuilds: Record<string, BuildOutputs>;
    /**
     * The cluster's identity for the Kubernetes provider: set, a changed kubeconfig (another address, the
     * API tunnel, rotated credentials) updates the provider instead of replacing every resource in it.
     */
    readonly clusterIdentifier?: string;
    /** The cluster was brought along (not installed by this program): check what exists in it first. */
    readonly broughtAlong?: boolean;
}

export class Cluster extends pulumi.ComponentResource {
    public readonly provider: k8s.Provider;
    /** The in-cluster daemon; undefined when `cluster.enabled` is false. */
    public readonly daemon?: BuildkitDaemon;
    /** How to reach the daemon; undefined without one. */
    public readonly outputs?: ClusterOutputs;
    /** In-cluster builds by name. */
    public readonly builds: Record<string, BuildOutputs>;

    constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:cluster:Cluster", name, {}, opts);
        const { settings, secrets } = args;
        this.provider = new k8s.Provider(
            "cluster",
            {
                kubeconfig: args.kubeconfig,
                enableServerSideApply: true,
                // A changed Secret or ConfigMap (a renewed certificate, a new buildkitd.toml) is updated in place; the
                // pods roll onto it through their template's hash annotations, one at a time. The provider's default
                // replaces them instead: with their fixed names, deleted first, the running pods' volumes gone under them.
                enableSecretMutable: true,
                enableConfigMapMutable: true,
                ...(args.clusterIdentifier === undefined ? {} : { clusterIdentifier: args.clusterIdentifier }),
            },
            moved(this, "pulumi:providers:kubernetes", "cluster"),
        );
        if (settings.cluster.enabled) {
            this.daemon = new BuildkitDaemon(
                "buildkitd",
                {
                    provider: this.provider,
                    cluster: settings.cluster,
                    buildkit: settings.buildkit,
                    registries: settings.registries,
                    registryPasswords: secrets.registryPasswords,
                    hostStateDir: args.hostStateDir,
                    ...(args.broughtAlong === true ? { existingCluster: args.kubeconfig } : {}),
                    proxyEnv: args.proxyEnv,
                    kubeconfig: args.kubeconfig,
                },
                moved(this, "k3s-buildkit:cluster:BuildkitDaemon", "buildkitd"),
            );
            this.outputs = {
                namespace: this.daemon.namespace,
                kubePodAddress: this.daemon.kubePodAddress,
                serviceAddress: this.daemon.serviceAddress,
                clientTls: this.daemon.clientTls,
                ...(this.daemon.cacheUsage === undefined ? {} : { cacheUsage: this.daemon.cacheUsage }),
            };
        }
        this.builds = this.imageBuilds(args, args.kubeconfig);
        this.deployments(args.settings.deployments, { ...args.hostBuilds, ...this.builds });
        this.registerOutputs({ builds: this.builds });
    }

    /**
     * In-cluster builds (Jobs against the daemon) under one `Builds` component. Each build sat under this
     * component before, and at the stack's root before the tree: both URNs are its aliases.
     */
    private imageBuilds(stack: Pick<ClusterArgs, "settings" | "secrets">, kubeconfig: pulumi.Input<string>): Record<string, BuildOutputs> {
        const daemon = this.daemon;
        if (daemon === undefined || stack.settings.builds.length === 0) return {}; // config validation rejects builds without the daemon
        const builds = new Builds(
            "builds",
            {
                provider: this.provider,
                kubeconfig,
                builds: stack.settings.builds,
                registries: stack.settings.registries,
                daemon,
                buildSecrets: stack.secrets.buildSecrets,
                previousUrns: (name) => [pulumi.createUrn(name, IMAGE_BUILD_TYPE, this), pulumi.createUrn(name, IMAGE_BUILD_TYPE)],
            },
            { parent: this },
        );
        return builds.results;
    }

    /** Deployments running built images by digest; a host-built image pins its pods to that host. */
    private deployments(deployments: ClusterArgs["settings"]["deployments"], builds: Record<string, BuildOutputs>): void {
        for (const d of deployments) {
            const built = builds[d.build];
            const name = `deployment-${d.namespace}-${d.name}`;
            new k8s.apps.v1.Deployment(
                name,
                {
                    metadata: { name: d.name, namespace: d.namespace, labels: { ...workloadLabels(d.name) } },
                    spec: deploymentSpec({
                        name: d.name,
                        image: built.ref,
                        replicas: d.replicas,
                        command: d.command,
                        ...(built.host === undefined ? {} : { hostNode: built.host }),
                    }),
                },
                moved(this, "kubernetes:apps/v1:Deployment", name, { provider: this.provider }),
            );
        }
    }
}
