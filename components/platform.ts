/**
 * `Platform` (`k3s-buildkit:index:Platform`): the whole program for one stack, as one resource tree:
 *
 *   Platform → <host> (Host: preflight, K3sNode, BuildkitHost, Nerdctl, its HostImageBuilds)
 *            → k3s-token
 *            → cluster (Cluster: Kubernetes provider, BuildkitDaemon, ImageBuilds, Deployments)
 *
 * `index.ts` builds one and exports its outputs. Stacks created before this tree had every component at
 * the root; each moved resource carries an alias to its old URN (children follow their parent's), so an
 * upgrade moves state and replaces nothing (test/program/tree.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { clusterBuildx, hostBuildx } from "./builds/buildx";
import { HostImageBuild } from "./builds/host-image-build";
import type { ClientTls } from "./cluster/buildkit-daemon";
import { moved } from "./aliases";
import { Cluster } from "./cluster/cluster";
import type { StackConfig } from "./config";
import { BuildkitHost } from "./host/buildkit";
import { hostConnection, transportTarget } from "./host/connection";
import { tunnelKubeconfig } from "./host/kubeconfig";
import { apiTunnel, defaultTunnelPort } from "./host/tunnel";
import { hostCommand } from "./host/step";
import { FirstServer } from "./host/first-server";
import { Host } from "./host/host";
import { K3S_CONFIG_PATH, K3sNode } from "./host/k3s";
import { Nerdctl } from "./host/nerdctl";
import { K3sToken } from "./host/token";
import { hostScript } from "./host/scripts";
import { stackProxy } from "./render/proxy";

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

export interface PlatformOutputs {
    readonly hosts: Record<string, HostOutputs>;
    /** Every build (builds and hostBuilds) by name. */
    readonly builds: Record<string, BuildOutputs>;
    /** Admin kubeconfig of the first server, address rewritten (secret); undefined without hosts. */
    readonly kubeconfig?: pulumi.Output<string>;
    /** The in-cluster daemon; undefined when `cluster.enabled` is false. */
    readonly cluster?: ClusterOutputs;
    /**
     * HA stacks (embedded etcd): the file name of the etcd snapshot taken on the first server before the
     * last k3s version change (`pre-<version>-…`, in `<dataDir>/server/db/snapshots`); "" when none was needed.
     */
    readonly etcdSnapshot?: pulumi.Output<string>;
    /** `docker buildx` builders for the daemons, as shell lines (seed 003 §5): the in-cluster one and one per host. */
    readonly buildx: { readonly cluster?: string; readonly hosts: Record<string, string> };
}

/** A Kubernetes provider is made only for something to deploy: the daemon (and its builds) or deployments. */
const needsCluster = (s: StackConfig["settings"]) => s.cluster.enabled || s.deployments.length > 0;

/** `https://<address>:6443`, IPv6 bracketed. */
export function serverUrl(address: string): string {
    return `https://${address.includes(":") ? `[${address}]` : address}:6443`;
}

/** Every resource of one stack, under one component. */
export class Platform extends pulumi.ComponentResource implements PlatformOutputs {
    public readonly hosts: Record<string, HostOutputs>;
    public readonly builds: Record<string, BuildOutputs>;
    public readonly kubeconfig?: pulumi.Output<string>;
    public readonly cluster?: ClusterOutputs;
    public readonly etcdSnapshot?: pulumi.Output<string>;
    public readonly buildx: PlatformOutputs["buildx"];

    constructor(name: string, stack: StackConfig, opts: pulumi.ComponentResourceOptions = {}) {
        super("k3s-buildkit:index:Platform", name, {}, opts);
        const outputs = createPlatform(this, stack);
        this.hosts = outputs.hosts;
        this.builds = outputs.builds;
        if (outputs.kubeconfig !== undefined) this.kubeconfig = outputs.kubeconfig;
        if (outputs.cluster !== undefined) this.cluster = outputs.cluster;
        if (outputs.etcdSnapshot !== undefined) this.etcdSnapshot = outputs.etcdSnapshot;
        this.buildx = outputs.buildx;
        this.registerOutputs({ hosts: this.hosts, builds: this.builds });
    }
}

/** The Platform's children, parented to it (see {@link Platform}). */
function createPlatform(platform: Platform, stack: StackConfig): PlatformOutputs {
    const { settings, secrets } = stack;
    const buildx = {
        ...(settings.cluster.enabled ? { cluster: clusterBuildx(pulumi.getStack(), settings.cluster.namespace) } : {}),
        hosts: Object.fromEntries(settings.hosts.map((h) => [h.name, hostBuildx(pulumi.getStack(), h.name, h.connection)])),
    };
    const clusterOf = (
        kubeconfig: pulumi.Input<string>,
        hostStateDir: string,
        hostBuilds: Record<string, BuildOutputs>,
        clusterIdentifier?: string,
    ) =>
        new Cluster(
            "cluster",
            // A cluster this program installed has an identity; one brought along is checked before use.
            {
                stack,
                kubeconfig,
                hostStateDir,
                hostBuilds,
                ...(clusterIdentifier === undefined ? { broughtAlong: true } : { clusterIdentifier }),
            },
            moved(platform, "k3s-buildkit:cluster:Cluster", "cluster"),
        );
    if (settings.hosts.length === 0) {
        // Bring-your-own cluster: config validation guarantees a kubeconfig here.
        const byo = secrets.kubeconfig;
        if (byo === undefined || !needsCluster(settings)) return { hosts: {}, builds: {}, buildx };
        const cluster = clusterOf(byo, "/var/lib/k3s-buildkit/buildkitd", {});
        return { hosts: {}, builds: cluster.builds, buildx, ...(cluster.outputs === undefined ? {} : { cluster: cluster.outputs }) };
    }

    const servers = settings.hosts.filter((h) => h.role === "server");
    const first = settings.hosts[0];
    const token = new K3sToken(
        "k3s-token",
        { connection: hostConnection(first.connection, secrets), configPath: K3S_CONFIG_PATH, length: 48 },
        { parent: platform },
    );
    // A host that runs a host build from git needs git: BuildKit fetches git contexts with the host's git.
    const needsGit = (name: string) =>
        settings.hostBuilds.some((b) => b.context.git !== undefined && (b.host ?? settings.hosts[0].name) === name);
    const hosts = settings.hosts.map(
        (h) =>
            new Host(
                h.name,
                { host: h, connection: hostConnection(h.connection, secrets), requires: needsGit(h.name) ? ["git"] : [] },
                moved(platform, "k3s-buildkit:host:Host", h.name),
            ),
    );
    const firstHost = hosts[0];

    // The cluster's first server, guarded: removing or replacing it is refused at preview.
    const guard = new FirstServer("k3s-first-server", { host: first.name, address: first.apiAddress }, { parent: platform });
    // HA (embedded etcd): a snapshot on the first server before anything installs a new k3s version.
    const snapshot =
        servers.length > 1
            ? hostCommand(
                  `${first.name}-etcd-snapshot`,
                  {
                      connection: firstHost.connection,
                      create: hostScript("k3s-snapshot", { K3S_VERSION: settings.k3s.version, K3S_DATA_DIR: settings.k3s.dataDir }),
                      triggers: [settings.k3s.version],
                  },
                  { parent: firstHost, dependsOn: [firstHost.ready] },
              )
            : undefined;
    const before = [guard, ...(snapshot === undefined ? [] : [snapshot])];
    const proxy = stackProxy(settings);
    const waves = rolloutWaves(settings.hosts, settings.k3s.upgrade.agentConcurrency);
    const drain = settings.k3s.upgrade.drain && settings.hosts.length > 1;

    const nodes: K3sNode[] = new Array<K3sNode>(settings.hosts.length);
    waves.forEach((wave, w) => {
        const restartAfter = w === 0 ? [] : waves[w - 1].map((i) => nodes[i].ready);
        for (const i of wave) {
            const h = settings.hosts[i];
            const isFirst = i === 0;
            nodes[i] = new K3sNode(
                h.name,
                {
                    host: hosts[i],
                    role: h.role,
                    settings: settings.k3s,
                    registries: settings.registries,
                    registryPasswords: secrets.registryPasswords,
                    token: token.result,
                    ...(isFirst ? {} : { serverUrl: serverUrl(first.apiAddress), removeVia: firstHost.connection }),
                    clusterInit: isFirst && servers.length > 1,
                    ...(h.role === "server" ? { apiAddress: h.apiAddress } : {}),
                    readinessHost: h.role === "server" ? hosts[i] : firstHost,
                    after: before,
                    restartAfter,
                    drain,
                    exportKubeconfig: isFirst,
                    hostConfig: h.k3sConfig,
                    proxyEnv: proxy.k3s,
                },
                moved(hosts[i], "k3s-buildkit:host:K3sNode", h.name),
            );
        }
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
                    proxyEnv: proxy.buildkit,
                },
                moved(hosts[i], "k3s-buildkit:host:BuildkitHost", h.name),
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
                          proxyEnv: proxy.download,
                      },
                      moved(hosts[i], "k3s-buildkit:host:Nerdctl", h.name),
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
                moved(hosts[i], "k3s-buildkit:build:HostImageBuild", b.name),
            );
            return [
                b.name,
                { kind: "host", host: settings.hosts[i].name, contextHash: build.contextHash, digest: build.digest, ref: build.ref },
            ];
        }),
    );
    const kubeconfig = nodes[0].kubeconfig;
    // The cluster is the one its first server created: its identity, whatever address reaches it.
    const cluster =
        kubeconfig === undefined || !needsCluster(settings)
            ? undefined
            : clusterOf(
                  apiKubeconfig(kubeconfig, firstHost, first, settings.cluster.apiTunnel),
                  `${settings.k3s.dataDir}/buildkitd`,
                  hostBuilds,
                  `k3s-buildkit/${pulumi.getStack()}/${first.name}`,
              );
    const builds = { ...hostBuilds, ...(cluster === undefined ? {} : cluster.builds) };

    return {
        builds,
        buildx,
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
        ...(snapshot === undefined ? {} : { etcdSnapshot: snapshot.stdout.apply((out) => /^etcd_snapshot=(.*)$/m.exec(out)?.[1] ?? "") }),
        ...(cluster?.outputs === undefined ? {} : { cluster: cluster.outputs }),
    };
}

/**
 * The kubeconfig the program itself uses to reach the API (the Kubernetes provider, the build-result
 * reader): the exported one, or, with the API tunnel (on by default when the first host sits behind a
 * bastion), the same pointed at the tunnel's local port, TLS still verified against the apiAddress.
 */
function apiKubeconfig(
    kubeconfig: pulumi.Output<string>,
    host: Host,
    first: StackConfig["settings"]["hosts"][number],
    tunnel: StackConfig["settings"]["cluster"]["apiTunnel"],
): pulumi.Output<string> {
    const on = tunnel.enabled ?? (first.connection.kind === "ssh" && first.connection.bastion !== undefined);
    if (!on || host.connection.config.kind === "local") return kubeconfig;
    const port = tunnel.localPort ?? defaultTunnelPort(pulumi.getStack());
    return pulumi.secret(
        pulumi.all([kubeconfig, transportTarget(host.connection)]).apply(async ([text, target]) => {
            if (target.kind !== "ssh") return text;
            const t = await apiTunnel(target, port);
            return tunnelKubeconfig(text, t.port, first.apiAddress);
        }),
    );
}

/**
 * The order in which k3s restarts roll out, as waves of host indexes: each server alone, in config order
 * (the first server first), then the agents in batches of `agentConcurrency`. Each wave's drains and
 * restarts wait for the previous wave's nodes to be Ready at the target version.
 */
export function rolloutWaves(hosts: readonly { role: "server" | "agent" }[], agentConcurrency: number): number[][] {
    const servers = hosts.flatMap((h, i) => (h.role === "server" ? [[i]] : []));
    const agents = hosts.flatMap((h, i) => (h.role === "agent" ? [i] : []));
    const batches: number[][] = [];
    for (let b = 0; b < agents.length; b += agentConcurrency) batches.push(agents.slice(b, b + agentConcurrency));
    return [...servers, ...batches];
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
