/**
 * `Host` (`k3s-buildkit:host:Host`): one machine, reached over SSH or locally, and everything the program
 * puts on it, as its children:
 *
 *   Host → preflight (root or working `sudo -n`, systemd as init, required tools, architecture)
 *        → etcd snapshot (the first server of an HA cluster, before a k3s version change)
 *        → K3sNode → BuildkitHost, Nerdctl → HostImageBuild (the builds that run on this host)
 *
 * `Platform` creates the hosts in rollout order and hands each what it waits for: the previous wave's
 * ready nodes, the first host (its connection, its snapshot, its BuildKit checksum).
 */
import * as pulumi from "@pulumi/pulumi";
import { moved } from "../aliases";
import type { BuildOutputs } from "../builds/outputs";
import type { ResolvedConfig, ResolvedHost } from "../config";
import { renderScript } from "../render/shell";
import { BuildkitHost, expectedBuildkitSha256 } from "./buildkit";
import type { HostConnection } from "./connection";
import type { HostHandle } from "./handle";
import { HostImageBuild } from "./host-image-build";
import { K3sNode, serverUrl } from "./k3s";
import { Nerdctl } from "./nerdctl";
import { hostScript, scriptBody } from "./scripts";
import { hostCommand, type HostStep } from "./step";
import type { CacheUsage } from "./cache-usage-provider";

/** What a host ended up with; the stack output `hosts` maps host names to this. */
export interface HostOutputs {
    readonly role: "server" | "agent";
    readonly arch: pulumi.Output<string>;
    readonly k3sVersion: string;
    readonly k3sSha256: pulumi.Output<string>;
    /** When the node's k3s certificates expire (the earliest; RFC 3339), as of the last up or refresh. */
    readonly k3sCertificatesExpireAt: pulumi.Output<string>;
    readonly buildkitVersion: string;
    readonly buildkitSha256: pulumi.Output<string>;
    readonly buildkitAddress: string;
    /** The host daemon's build cache size (bytes, reclaimable bytes, records), as of the last up or refresh. */
    readonly buildkitCacheUsage: pulumi.Output<CacheUsage>;
    readonly nerdctlVersion?: string;
    readonly nerdctlSha256?: pulumi.Output<string>;
}

export interface HostArgs {
    /** The host's settings from stack config. */
    readonly host: ResolvedHost;
    /** How to reach it, with its secrets. */
    readonly connection: HostConnection;
    /** Commands the host's work needs besides the usual ones (e.g. `git` for a host build with a git context). @default [] */
    readonly requires?: readonly string[];
    /** What the host's software follows. */
    readonly settings: Pick<ResolvedConfig, "k3s" | "buildkit" | "nerdctl" | "registries">;
    /** Registry passwords and build secrets (secret). */
    readonly secrets: {
        readonly registryPasswords: pulumi.Input<Record<string, string>>;
        readonly buildSecrets: pulumi.Input<Record<string, string>>;
    };
    /** The cluster's join token (secret). */
    readonly token: pulumi.Input<string>;
    /** The cluster's first host, for every other host (it joins there; it must see the first host's BuildKit tarball). */
    readonly first?: Host;
    /** More than one server (embedded etcd): the first host initialises etcd and snapshots it before a version change. */
    readonly ha: boolean;
    /** What every step waits for besides the preflight (the first-server guard). */
    readonly after: pulumi.Resource[];
    /** What this host's drain and k3s (re)start wait for: the previous rollout wave's ready nodes. */
    readonly restartAfter: pulumi.Resource[];
    /** Drain before a k3s restart. */
    readonly drain: boolean;
    /** Proxy variables per consumer (the stack proxy). */
    readonly proxy: {
        readonly download: Record<string, string>;
        readonly k3s: Record<string, string>;
        readonly buildkit: Record<string, string>;
    };
    /** The host builds that run on this host. @default [] */
    readonly builds?: readonly ResolvedConfig["hostBuilds"][number][];
}

/** What the preflight found on a host. */
export interface HostFacts {
    readonly arch: "amd64" | "arm64";
    /** Size of the filesystem BuildKit's root is on, in bytes; 0 when not reported. */
    readonly diskBytes: number;
    /** Online CPUs; 0 when not reported. */
    readonly cpus: number;
}

/** Parses the preflight script's output (`arch=amd64`, `disk_kib=…`, `cpus=…`). */
export function parsePreflight(stdout: string): HostFacts {
    const m = /^arch=(amd64|arm64)$/m.exec(stdout);
    if (m === null) throw new Error(`preflight printed no architecture: ${JSON.stringify(stdout.slice(0, 200))}`);
    const num = (key: string) => Number(new RegExp(`^${key}=(\\d{1,15})$`, "m").exec(stdout)?.[1] ?? "0");
    return { arch: m[1] as "amd64" | "arm64", diskBytes: num("disk_kib") * 1024, cpus: num("cpus") };
}

export class Host extends pulumi.ComponentResource implements HostHandle {
    /** Host name from stack config. */
    public readonly name: string;
    /** The address other nodes and the kubeconfig use for this host's API (servers). */
    public readonly apiAddress: string;
    /** How to reach the host; its children run their steps through it. */
    public readonly connection: HostConnection;
    /** `amd64` or `arm64`, as found by the preflight check. */
    public readonly arch: pulumi.Output<string>;
    /** What the preflight found: architecture, BuildKit's disk, CPUs. */
    public readonly facts: pulumi.Output<HostFacts>;
    /** The preflight step; every step on the host depends on it. */
    public readonly ready: pulumi.Resource;
    /** The first server of an HA cluster: the etcd snapshot taken before a k3s version change. */
    public readonly snapshot?: HostStep;
    public readonly k3s: K3sNode;
    public readonly buildkit: BuildkitHost;
    public readonly nerdctl?: Nerdctl;
    /** This host's builds by name. */
    public readonly builds: Record<string, BuildOutputs>;
    public readonly outputs: HostOutputs;

    constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:host:Host", name, {}, opts);
        const h = args.host;
        const { settings, first } = args;
        this.name = h.name;
        this.apiAddress = h.apiAddress;
        this.connection = args.connection;
        const preflight = hostCommand(
            `${name}-preflight`,
            {
                connection: args.connection,
                // Hosts that need more tools get EXTRA_TOOLS; BUILDKIT_ROOT names the disk BuildKit's GC limits derive from.
                create: renderScript(scriptBody("preflight"), {
                    BUILDKIT_ROOT: settings.buildkit.root,
                    ...((args.requires ?? []).length === 0 ? {} : { EXTRA_TOOLS: [...(args.requires ?? [])].sort().join(" ") }),
                }),
            },
            { parent: this },
        );
        this.ready = preflight;
        this.facts = preflight.stdout.apply(parsePreflight);
        this.arch = this.facts.apply((f) => f.arch);

        // HA (embedded etcd): a snapshot on the first server before anything installs a new k3s version.
        if (first === undefined && args.ha) {
            this.snapshot = hostCommand(
                `${h.name}-etcd-snapshot`,
                {
                    connection: args.connection,
                    create: hostScript("k3s-snapshot", { K3S_VERSION: settings.k3s.version, K3S_DATA_DIR: settings.k3s.dataDir }),
                    triggers: [settings.k3s.version],
                },
                { parent: this, dependsOn: [preflight] },
            );
        }
        const snapshot = first === undefined ? this.snapshot : first.snapshot;
        this.k3s = new K3sNode(
            h.name,
            {
                host: this,
                role: h.role,
                settings: settings.k3s,
                registries: settings.registries,
                registryPasswords: args.secrets.registryPasswords,
                token: args.token,
                // Joiners register at the registration address when there is one, else at the first server.
                // Removing a joining node drains and deletes it on the first server; with a registration
                // address the first server can go too, and removes itself the same way, on itself.
                ...(first === undefined
                    ? settings.k3s.registrationAddress === undefined
                        ? {}
                        : { removeVia: args.connection }
                    : {
                          serverUrl: serverUrl(settings.k3s.registrationAddress ?? first.apiAddress),
                          removeVia: first.connection,
                          ...(first.k3s.member === undefined ? {} : { removeAfter: [first.k3s.member] }),
                      }),
                clusterInit: first === undefined && args.ha,
                ...(h.role === "server" ? { apiAddress: h.apiAddress } : {}),
                readinessHost: h.role === "server" || first === undefined ? this : first,
                after: [...args.after, ...(snapshot === undefined ? [] : [snapshot])],
                restartAfter: args.restartAfter,
                drain: args.drain,
                exportKubeconfig: first === undefined,
                hostConfig: h.k3sConfig,
                proxyEnv: args.proxy.k3s,
            },
            moved(this, "k3s-buildkit:host:K3sNode", h.name),
        );
        this.buildkit = new BuildkitHost(
            h.name,
            {
                host: this,
                settings: settings.buildkit,
                registries: settings.registries,
                k3sUnit: h.role === "server" ? "k3s.service" : "k3s-agent.service",
                expectedSha256: expectedBuildkitSha256(this.arch, settings.buildkit.sha256, first),
                // Installed once k3s's install step made the directories they share (BuildKit's root beside
                // k3s's data dir: a destroy then removes BuildKit first, and k3s its parents), beside k3s's
                // start; started once k3s is Ready.
                after: [...args.after, this.k3s.install],
                startAfter: [this.k3s.ready],
                proxyEnv: args.proxy.buildkit,
            },
            moved(this, "k3s-buildkit:host:BuildkitHost", h.name),
        );
        if (settings.nerdctl.enabled) {
            this.nerdctl = new Nerdctl(
                h.name,
                {
                    host: this,
                    settings: settings.nerdctl,
                    namespace: settings.buildkit.containerdNamespace,
                    registries: settings.registries,
                    k3sDataDir: settings.k3s.dataDir,
                    // Files and a download only: beside k3s.
                    after: args.after,
                    proxyEnv: args.proxy.download,
                },
                moved(this, "k3s-buildkit:host:Nerdctl", h.name),
            );
        }
        this.builds = Object.fromEntries(
            (args.builds ?? []).map((b) => {
                const build = new HostImageBuild(
                    b.name,
                    {
                        connection: args.connection,
                        build: b,
                        registries: settings.registries,
                        containerdNamespace: settings.buildkit.containerdNamespace,
                        buildSecrets: args.secrets.buildSecrets,
                        registryPasswords: args.secrets.registryPasswords,
                        after: [this.buildkit],
                    },
                    moved(this, "k3s-buildkit:build:HostImageBuild", b.name),
                );
                const out: BuildOutputs = {
                    kind: "host",
                    host: h.name,
                    contextHash: build.contextHash,
                    digest: build.digest,
                    ref: build.ref,
                };
                return [b.name, out];
            }),
        );
        this.outputs = {
            role: h.role,
            arch: this.arch,
            k3sVersion: this.k3s.version,
            k3sSha256: this.k3s.binarySha256,
            k3sCertificatesExpireAt: this.k3s.certificatesExpireAt,
            buildkitVersion: this.buildkit.version,
            buildkitSha256: this.buildkit.tarballSha256,
            buildkitAddress: this.buildkit.address,
            buildkitCacheUsage: this.buildkit.cacheUsage,
            ...(this.nerdctl === undefined ? {} : { nerdctlVersion: this.nerdctl.version, nerdctlSha256: this.nerdctl.archiveSha256 }),
        };
        this.registerOutputs({ arch: this.arch });
    }
}
