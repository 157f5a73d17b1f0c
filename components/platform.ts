/**
 * The whole program for one stack: hosts (preflight), k3s (first server, joining servers, agents),
 * BuildKit and nerdctl on every host. `index.ts` calls {@link createPlatform} and exports its outputs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BuildkitDaemon, type ClientTls } from "./cluster/buildkit-daemon";
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

export interface Platform {
    readonly hosts: Record<string, HostOutputs>;
    /** Admin kubeconfig of the first server, address rewritten (secret); undefined without hosts. */
    readonly kubeconfig?: pulumi.Output<string>;
    /** The in-cluster daemon; undefined when `cluster.enabled` is false. */
    readonly cluster?: ClusterOutputs;
}

/** The in-cluster daemon on the cluster `kubeconfig` points at, through an explicit provider. */
function createCluster(
    stack: StackConfig,
    kubeconfig: pulumi.Input<string>,
    hostStateDir: string,
    opts: pulumi.ComponentResourceOptions,
): ClusterOutputs {
    const { settings, secrets } = stack;
    const provider = new k8s.Provider("cluster", { kubeconfig, enableServerSideApply: true }, opts);
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
    return {
        namespace: daemon.namespace,
        kubePodAddress: daemon.kubePodAddress,
        serviceAddress: daemon.serviceAddress,
        clientTls: daemon.clientTls,
    };
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
        return {
            hosts: {},
            ...(settings.cluster.enabled && byo !== undefined
                ? { cluster: createCluster(stack, byo, "/var/lib/k3s-buildkit/buildkitd", opts) }
                : {}),
        };
    }

    const token = new random.RandomPassword("k3s-token", { length: 48, special: false }, opts);
    const servers = settings.hosts.filter((h) => h.role === "server");
    const first = settings.hosts[0];
    const hosts = settings.hosts.map((h) => new Host(h.name, { host: h, connection: hostConnection(h.connection, secrets) }, opts));
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
                          after: [nodes[i].ready],
                      },
                      opts,
                  ),
          )
        : [];

    return {
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
        ...(nodes[0].kubeconfig === undefined ? {} : { kubeconfig: nodes[0].kubeconfig }),
        ...(settings.cluster.enabled && nodes[0].kubeconfig !== undefined
            ? { cluster: createCluster(stack, nodes[0].kubeconfig, `${settings.k3s.dataDir}/buildkitd`, opts) }
            : {}),
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
