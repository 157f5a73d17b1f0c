/**
 * The whole program for one stack: hosts (preflight), k3s (first server, joining servers, agents),
 * BuildKit and nerdctl on every host. `index.ts` calls {@link createPlatform} and exports its outputs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { HostImageBuild } from "./build/host-image-build";
import { ImageBuild } from "./build/image-build";
import { BuildkitDaemon, type ClientTls } from "./cluster/buildkit-daemon";
import { deploymentSpec, workloadLabels } from "./cluster/deployment-spec";
import type { StackConfig } from "./config";
import { BuildkitHost } from "./host/buildkit";
import { hostConnection } from "./host/connection";
import { Host } from "./host/host";
import { K3sNode } from "./host/k3s";
import { Nerdctl } from "./host/nerdctl";

/** What a host ended up with; the stack output `hosts` maps host names to this. */
export interface HostOutputs {
    readonly role: "server" | "agent";
    readonly arch: pulumi.Output<string>;
    readonly k3sVersion: string;
    readonly k3sSha256: pulumi.Output<string>;
    readonly buildkitVersion: string;
    readonly buildkitSha256: pulumi.Output<string>;
    readonly buildkitAddress: string;
    readonly nerdctlVersion?: string;
    readonly nerdctlSha256?: pulumi.Output<string>;
}

/** How to reach the in-cluster daemon. */
export interface ClusterOutputs {
    readonly namespace: string;
    /** `kube-pod://buildkitd-0?namespace=…` (buildctl with a kubeconfig). */
    readonly kubePodAddress: string;
    /** `tcp://buildkitd.<ns>.svc:1234` (mutual TLS; from Jobs, or 127.0.0.1:1234 through a port-forward). */
    readonly serviceAddress: string;
    /** Client certificate bundle (secret). */
    readonly clientTls: pulumi.Output<ClientTls>;
}

/** A build's result: the Job (in-cluster builds) and the image by digest. */
export interface BuildOutputs {
    readonly kind: "cluster" | "host";
    /** In-cluster builds: the content-addressed Job name. */
    readonly jobName?: string;
    /** Host builds: the host and the context hash. */
    readonly host?: string;
    readonly contextHash?: string;
    readonly digest: pulumi.Output<string>;
    /** `repository@sha256:…`. */
    readonly ref: pulumi.Output<string>;
}

export interface Platform {
    readonly hosts: Record<string, HostOutputs>;
    /** Every build (builds and hostBuilds) by name. */
    readonly builds: Record<string, BuildOutputs>;
    /** Admin kubeconfig of the first server, address rewritten (secret); undefined without hosts. */
    readonly kubeconfig?: pulumi.Output<string>;
    /** The in-cluster daemon; undefined when `cluster.enabled` is false. */
    readonly cluster?: ClusterOutputs;
}

/** A Kubernetes provider is made only for something to deploy: the daemon (and its builds) or deployments. */
const needsCluster = (s: StackConfig["settings"]) => s.cluster.enabled || s.deployments.length > 0;

interface Cluster {
    readonly provider: k8s.Provider;
    readonly kubeconfig: pulumi.Input<string>;
    readonly daemon?: BuildkitDaemon;
}

/** The Kubernetes provider for the cluster `kubeconfig` points at, and the in-cluster daemon when enabled. */
function createCluster(
    stack: StackConfig,
    kubeconfig: pulumi.Input<string>,
    hostStateDir: string,
    opts: pulumi.ComponentResourceOptions,
): Cluster {
    const { settings, secrets } = stack;
    const provider = new k8s.Provider("cluster", { kubeconfig, enableServerSideApply: true }, opts);
    if (!settings.cluster.enabled) return { provider, kubeconfig };
    const daemon = new BuildkitDaemon(
        "buildkitd",
        {
            provider,
            cluster: settings.cluster,
            buildkit: settings.buildkit,
            registries: settings.registries,
            registryPasswords: secrets.registryPasswords,
            hostStateDir,
        },
        opts,
    );
    return { provider, kubeconfig, daemon };
}

function clusterOutputs(daemon: BuildkitDaemon): ClusterOutputs {
    return {
        namespace: daemon.namespace,
        kubePodAddress: daemon.kubePodAddress,
        serviceAddress: daemon.serviceAddress,
        clientTls: daemon.clientTls,
    };
}

/** In-cluster builds (Jobs against the daemon). */
function createImageBuilds(stack: StackConfig, cluster: Cluster, opts: pulumi.ComponentResourceOptions): Record<string, BuildOutputs> {
    const daemon = cluster.daemon;
    if (daemon === undefined) return {}; // config validation rejects builds without the daemon
    return Object.fromEntries(
        stack.settings.builds.map((b) => {
            const build = new ImageBuild(
                b.name,
                {
                    provider: cluster.provider,
                    kubeconfig: cluster.kubeconfig,
                    build: b,
                    registries: stack.settings.registries,
                    daemon: {
                        namespace: daemon.namespace,
                        replicas: daemon.replicas,
                        image: daemon.image,
                        clientTlsSecretName: daemon.clientTlsSecretName,
                        registryAuthSecretName: daemon.registryAuthSecretName,
                    },
                    buildSecrets: stack.secrets.buildSecrets,
                    dependsOn: [daemon],
                },
                opts,
            );
            return [b.name, { kind: "cluster", jobName: build.jobName, digest: build.digest, ref: build.ref }] as const;
        }),
    );
}

/** Deployments running built images by digest; a host-built image pins its pods to that host. */
function createDeployments(
    stack: StackConfig,
    cluster: Cluster,
    builds: Record<string, BuildOutputs>,
    opts: pulumi.ComponentResourceOptions,
): void {
    for (const d of stack.settings.deployments) {
        const built = builds[d.build];
        new k8s.apps.v1.Deployment(
            `deployment-${d.namespace}-${d.name}`,
            {
                metadata: { name: d.name, namespace: d.namespace, labels: { ...workloadLabels(d.name) } },
                spec: built.ref.apply((image) =>
                    deploymentSpec({
                        name: d.name,
                        image,
                        replicas: d.replicas,
                        command: d.command,
                        ...(built.host === undefined ? {} : { hostNode: built.host }),
                    }),
                ),
            },
            { ...opts, provider: cluster.provider },
        );
    }
}

/** `https://<address>:6443`, IPv6 bracketed. */
export function serverUrl(address: string): string {
    return `https://${address.includes(":") ? `[${address}]` : address}:6443`;
}

/** Builds every resource of the stack. `opts` is passed to each top-level component. */
export function createPlatform(stack: StackConfig, opts: pulumi.ComponentResourceOptions = {}): Platform {
    const { settings, secrets } = stack;
    if (settings.hosts.length === 0) {
        // Bring-your-own cluster: config validation guarantees a kubeconfig here.
        const byo = secrets.kubeconfig;
        if (byo === undefined || !needsCluster(settings)) return { hosts: {}, builds: {} };
        const cluster = createCluster(stack, byo, "/var/lib/k3s-buildkit/buildkitd", opts);
        const builds = createImageBuilds(stack, cluster, opts);
        createDeployments(stack, cluster, builds, opts);
        return { hosts: {}, builds, ...(cluster.daemon === undefined ? {} : { cluster: clusterOutputs(cluster.daemon) }) };
    }

    const token = new random.RandomPassword("k3s-token", { length: 48, special: false }, opts);
    const servers = settings.hosts.filter((h) => h.role === "server");
    const first = settings.hosts[0];
    // A host that runs a host build from git needs git: BuildKit fetches git contexts with the host's git.
    const needsGit = (name: string) =>
        settings.hostBuilds.some((b) => b.context.git !== undefined && (b.host ?? settings.hosts[0].name) === name);
    const hosts = settings.hosts.map(
        (h) =>
            new Host(
                h.name,
                { host: h, connection: hostConnection(h.connection, secrets), requires: needsGit(h.name) ? ["git"] : [] },
                opts,
            ),
    );
    const firstHost = hosts[0];

    const nodes: K3sNode[] = [];
    settings.hosts.forEach((h, i) => {
        const isFirst = i === 0;
        nodes.push(
            new K3sNode(
                h.name,
                {
                    host: hosts[i],
                    role: h.role,
                    settings: settings.k3s,
                    registries: settings.registries,
                    registryPasswords: secrets.registryPasswords,
                    token: token.result,
                    ...(isFirst ? {} : { serverUrl: serverUrl(first.apiAddress) }),
                    clusterInit: isFirst && servers.length > 1,
                    ...(h.role === "server" ? { apiAddress: h.apiAddress } : {}),
                    readinessHost: h.role === "server" ? hosts[i] : firstHost,
                    ...(isFirst ? {} : { after: [nodes[0].ready] }),
                    exportKubeconfig: isFirst,
                },
                opts,
            ),
        );
    });

    // BuildKit publishes no checksums: pin per architecture in config, else every host must see the
    // tarball the first host saw (trust on first use), when it has the first host's architecture.
    const buildkits: BuildkitHost[] = [];
    settings.hosts.forEach((h, i) => {
        const pinned = settings.buildkit.sha256;
        const expected = expectedBuildkitSha256(i, hosts, buildkits, pinned);
        buildkits.push(
            new BuildkitHost(
                h.name,
                {
                    host: hosts[i],
                    settings: settings.buildkit,
                    registries: settings.registries,
                    k3sUnit: h.role === "server" ? "k3s.service" : "k3s-agent.service",
                    expectedSha256: expected,
                    after: [nodes[i].ready],
                },
                opts,
            ),
        );
    });

    const nerdctls = settings.nerdctl.enabled
        ? settings.hosts.map(
              (h, i) =>
                  new Nerdctl(
                      h.name,
                      {
                          host: hosts[i],
                          settings: settings.nerdctl,
                          namespace: settings.buildkit.containerdNamespace,
                          registries: settings.registries,
                          k3sDataDir: settings.k3s.dataDir,
                          after: [nodes[i].ready],
                      },
                      opts,
                  ),
          )
        : [];

    const hostBuilds: Record<string, BuildOutputs> = Object.fromEntries(
        settings.hostBuilds.map((b) => {
            const i = b.host === undefined ? 0 : settings.hosts.findIndex((h) => h.name === b.host);
            const build = new HostImageBuild(
                b.name,
                {
                    connection: hosts[i].connection,
                    build: b,
                    registries: settings.registries,
                    containerdNamespace: settings.buildkit.containerdNamespace,
                    buildSecrets: secrets.buildSecrets,
                    registryPasswords: secrets.registryPasswords,
                    after: [buildkits[i]],
                },
                opts,
            );
            return [
                b.name,
                { kind: "host", host: settings.hosts[i].name, contextHash: build.contextHash, digest: build.digest, ref: build.ref },
            ];
        }),
    );
    const kubeconfig = nodes[0].kubeconfig;
    const cluster =
        kubeconfig === undefined || !needsCluster(settings)
            ? undefined
            : createCluster(stack, kubeconfig, `${settings.k3s.dataDir}/buildkitd`, opts);
    const builds = { ...hostBuilds, ...(cluster === undefined ? {} : createImageBuilds(stack, cluster, opts)) };
    if (cluster !== undefined) createDeployments(stack, cluster, builds, opts);

    return {
        builds,
        hosts: Object.fromEntries(
            settings.hosts.map((h, i) => [
                h.name,
                {
                    role: h.role,
                    arch: hosts[i].arch,
                    k3sVersion: nodes[i].version,
                    k3sSha256: nodes[i].binarySha256,
                    buildkitVersion: buildkits[i].version,
                    buildkitSha256: buildkits[i].tarballSha256,
                    buildkitAddress: buildkits[i].address,
                    ...(nerdctls[i] === undefined ? {} : { nerdctlVersion: nerdctls[i].version, nerdctlSha256: nerdctls[i].archiveSha256 }),
                },
            ]),
        ),
        ...(kubeconfig === undefined ? {} : { kubeconfig }),
        ...(cluster?.daemon === undefined ? {} : { cluster: clusterOutputs(cluster.daemon) }),
    };
}

/** The checksum host `i` must see: the pinned one for its arch, else the first host's when the arch matches. */
function expectedBuildkitSha256(
    i: number,
    hosts: readonly Host[],
    buildkits: readonly BuildkitHost[],
    pinned: Readonly<Record<string, string>>,
): pulumi.Output<string> {
    if (i === 0) return hosts[0].arch.apply((arch) => pinned[arch] ?? "");
    return pulumi
        .all([hosts[i].arch, hosts[0].arch, buildkits[0].tarballSha256])
        .apply(([arch, firstArch, firstSha]) => pinned[arch] ?? (arch === firstArch ? firstSha : ""));
}
