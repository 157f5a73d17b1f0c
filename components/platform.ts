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
import { moved } from "./aliases";
import { clusterBuildx, hostBuildx } from "./builds/buildx";
import type { BuildOutputs } from "./builds/outputs";
import { Cluster, type ClusterOutputs } from "./cluster/cluster";
import type { StackConfig } from "./config";
import { apiKubeconfig } from "./host/api-kubeconfig";
import { hostConnection } from "./host/connection";
import { FirstServer } from "./host/first-server";
import { Host, type HostOutputs } from "./host/host";
import { K3S_CONFIG_PATH } from "./host/k3s";
import { stackProxy } from "./host/proxy-env";
import { rolloutWaves } from "./host/rollout";
import { K3sToken } from "./host/token";
import { skipSdkPromiseStacks } from "./promise-stacks";

export type { HostOutputs } from "./host/host";
export type { BuildOutputs } from "./builds/outputs";
export type { ClusterOutputs } from "./cluster/cluster";

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

/** Every resource of one stack, under one component. */
export class Platform extends pulumi.ComponentResource implements PlatformOutputs {
    public readonly hosts: Record<string, HostOutputs>;
    public readonly builds: Record<string, BuildOutputs>;
    public readonly kubeconfig?: pulumi.Output<string>;
    public readonly cluster?: ClusterOutputs;
    public readonly etcdSnapshot?: pulumi.Output<string>;
    public readonly buildx: PlatformOutputs["buildx"];

    constructor(name: string, stack: StackConfig, opts: pulumi.ComponentResourceOptions = {}) {
        // Before the first resource: the SDK's per-promise stack traces cost most of a large evaluation.
        skipSdkPromiseStacks();
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
                settings,
                secrets,
                proxyEnv: stackProxy(settings).buildkit,
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
    // The cluster's first server, guarded: removing or replacing it is refused at preview (unless the
    // cluster has a registration address and the new first host is already one of its servers).
    const guard = new FirstServer(
        "k3s-first-server",
        {
            host: first.name,
            address: first.apiAddress,
            ...(settings.k3s.registrationAddress === undefined ? {} : { registrationAddress: settings.k3s.registrationAddress }),
            servers: servers.map((s) => s.name),
        },
        { parent: platform },
    );
    // A host that runs a host build from git needs git: BuildKit fetches git contexts with the host's git.
    const buildsOn = (name: string) => settings.hostBuilds.filter((b) => (b.host ?? first.name) === name);
    const proxy = stackProxy(settings);
    const drain = settings.k3s.upgrade.drain && settings.hosts.length > 1;

    // Hosts in rollout order (the first server first): each wave's k3s restarts and certificate rotations wait
    // for the previous wave's nodes to be Ready and done with their own rotation.
    const hosts = new Array<Host>(settings.hosts.length);
    const waves = rolloutWaves(settings.hosts, settings.k3s.upgrade.agentConcurrency);
    waves.forEach((wave, w) => {
        const restartAfter = w === 0 ? [] : waves[w - 1].flatMap((i) => [hosts[i].k3s.ready, hosts[i].k3s.certificates]);
        for (const i of wave) {
            const h = settings.hosts[i];
            const builds = buildsOn(h.name);
            hosts[i] = new Host(
                h.name,
                {
                    host: h,
                    connection: hostConnection(h.connection, secrets),
                    requires: builds.some((b) => b.context.git !== undefined) ? ["git"] : [],
                    settings,
                    secrets: { registryPasswords: secrets.registryPasswords, buildSecrets: secrets.buildSecrets },
                    token: token.result,
                    ...(i === 0 ? {} : { first: hosts[0] }),
                    ha: servers.length > 1,
                    after: [guard],
                    restartAfter,
                    drain,
                    proxy,
                    builds,
                },
                moved(platform, "k3s-buildkit:host:Host", h.name),
            );
        }
    });
    const firstHost = hosts[0];
    const hostBuilds: Record<string, BuildOutputs> = Object.fromEntries(hosts.flatMap((h) => Object.entries(h.builds)));
    const kubeconfig = firstHost.k3s.kubeconfig;
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
    const snapshot = firstHost.snapshot;

    return {
        builds,
        buildx,
        hosts: Object.fromEntries(hosts.map((h) => [h.name, h.outputs])),
        ...(kubeconfig === undefined ? {} : { kubeconfig }),
        ...(snapshot === undefined ? {} : { etcdSnapshot: snapshot.stdout.apply((out) => /^etcd_snapshot=(.*)$/m.exec(out)?.[1] ?? "") }),
        ...(cluster?.outputs === undefined ? {} : { cluster: cluster.outputs }),
    };
}
