/**
 * `BuildkitHost` (`k3s-buildkit:host:BuildkitHost`): BuildKit on a host, its worker being k3s's own
 * containerd. Children: the install step (release tarball, checked against a pinned or first-seen
 * sha256), `/etc/buildkit/buildkitd.toml`, `buildkit.socket` and `buildkit.service` as HostFiles, the
 * two units' state as SystemdServices (the service restarts when the config, its unit or the binaries
 * change), and a readiness check with `buildctl debug workers`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedConfig } from "../config";
import { hasOwnGcPolicy, K3S_CONTAINERD_SOCKET, renderBuildkitdToml, type BuildkitdModel } from "../render/buildkitd-toml";
import { effectiveGc } from "../render/gc-limits";
import { renderEnvFile } from "../render/proxy";
import {
    BUILDKIT_CONFIG_PATH,
    BUILDKIT_ENV_PATH,
    BUILDKIT_SOCKET_PATH,
    buildkitPruneServiceUnit,
    buildkitPruneTimerUnit,
    buildkitServiceUnit,
    buildkitSocketUnit,
    renderUnit,
} from "../render/systemd-unit";
import { hostCommand } from "./step";
import type { HostHandle } from "./handle";
import { HostFile } from "./host-file";
import { sha256Hex } from "./host-file-provider";
import { SystemdService } from "./host-service";
import { BuildkitCacheUsage } from "./cache-usage";
import type { CacheUsage } from "./cache-usage-provider";
import { hostScript } from "./scripts";

/** Where a registry's CA certificate is written for buildkitd. */
export const buildkitCaPath = (registry: string) => `/etc/buildkit/certs/${registry}/ca.pem`;
/** The address of the host daemon, for buildctl and nerdctl. */
export const BUILDKIT_ADDRESS = `unix://${BUILDKIT_SOCKET_PATH}`;

/** What a host's buildkitd.toml derives from the machine (preflight): its disk and CPUs; 0 is unknown. */
export interface BuildkitHostFacts {
    readonly diskBytes: number;
    readonly cpus: number;
}

/**
 * The buildkitd.toml model for a host, from stack config and what the host has. Pure. GC limits not set
 * in config are derived from the disk BuildKit's root is on; max-parallelism defaults to the CPUs.
 */
export function hostBuildkitdModel(
    buildkit: ResolvedConfig["buildkit"],
    registries: ResolvedConfig["registries"],
    facts: BuildkitHostFacts = { diskBytes: 0, cpus: 0 },
): BuildkitdModel {
    const maxParallelism = buildkit.maxParallelism ?? (facts.cpus > 0 ? facts.cpus : undefined);
    return {
        extra: buildkit.extraConfig,
        root: buildkit.root,
        debug: buildkit.debug,
        worker: {
            kind: "containerd",
            address: K3S_CONTAINERD_SOCKET,
            namespace: buildkit.containerdNamespace,
            platforms: buildkit.platforms,
            gc: effectiveGc(buildkit.gc, facts.diskBytes, hasOwnGcPolicy(buildkit.extraConfig, "containerd")),
            ...(maxParallelism === undefined ? {} : { maxParallelism }),
        },
        history: buildkit.history,
        registries: Object.fromEntries(
            Object.entries(registries).map(([host, r]) => [
                host,
                { mirrors: r.mirrors, http: r.http, insecure: r.insecure, caFiles: r.ca === undefined ? [] : [buildkitCaPath(host)] },
            ]),
        ),
    };
}

export interface BuildkitHostArgs {
    readonly host: HostHandle;
    readonly settings: ResolvedConfig["buildkit"];
    readonly registries: ResolvedConfig["registries"];
    /** systemd unit of k3s on this host (`k3s.service` or `k3s-agent.service`). */
    readonly k3sUnit: string;
    /** The tarball checksum the host must see: pinned, or recorded by the first host; "" to record only. */
    readonly expectedSha256: pulumi.Input<string>;
    /** What every BuildKit step waits for besides the host's preflight (the first-server guard). */
    readonly after: pulumi.Resource[];
    /** What the daemon's start waits for (k3s Ready: its worker is k3s's containerd); the install does not. */
    readonly startAfter: pulumi.Resource[];
    /** Proxy variables for the download and the daemon (stack proxy); none without one. @default {} */
    readonly proxyEnv?: Readonly<Record<string, string>>;
}

export class BuildkitHost extends pulumi.ComponentResource {
    public readonly version: string;
    /** sha256 of the release tarball this host installed (record it in buildkit.sha256 to pin). */
    public readonly tarballSha256: pulumi.Output<string>;
    /** `unix:///run/buildkit/buildkitd.sock`. */
    public readonly address: string;
    public readonly ready: pulumi.Resource;
    /** The daemon's build cache size, as BuildKit counts it, as of the last up or refresh. */
    public readonly cacheUsage: pulumi.Output<CacheUsage>;

    constructor(name: string, args: BuildkitHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:host:BuildkitHost", name, {}, opts);
        const { host, settings } = args;
        const conn = host.connection;
        this.version = settings.version;
        this.address = BUILDKIT_ADDRESS;
        const child = { parent: this, dependsOn: [host.ready, ...args.after] };
        const proxyEnv = args.proxyEnv ?? {};
        const withProxy = Object.keys(proxyEnv).length > 0;

        const install = hostCommand(
            `${name}-buildkit-install`,
            {
                connection: conn,
                create: pulumi.all([args.expectedSha256, host.arch]).apply(([expected, arch]) =>
                    hostScript("buildkit-install", {
                        BUILDKIT_VERSION: settings.version,
                        BUILDKIT_BASE_URL: settings.downloadBaseUrl,
                        ARCH: arch,
                        BUILDKIT_SHA256: expected,
                        BUILDKIT_ROOT: settings.root,
                        ...proxyEnv,
                    }),
                ),
                delete: hostScript("buildkit-uninstall", { BUILDKIT_ROOT: settings.root }),
            },
            { ...child, deleteBeforeReplace: true },
        );
        this.tarballSha256 = install.stdout.apply((out) => /^buildkit_sha256=([0-9a-f]{64})$/m.exec(out)?.[1] ?? "");

        const toml = host.facts.apply((facts) => renderBuildkitdToml(hostBuildkitdModel(settings, args.registries, facts)));
        const socketUnit = renderUnit(buildkitSocketUnit("root"));
        const serviceUnit = renderUnit(
            buildkitServiceUnit(args.k3sUnit, withProxy, { root: settings.root, namespace: settings.containerdNamespace }),
        );
        const envFile = renderEnvFile(proxyEnv);
        const caFiles = Object.entries(args.registries)
            .filter(([, r]) => r.ca !== undefined)
            .map(([registry, r]) => ({ registry, path: buildkitCaPath(registry), content: r.ca ?? "" }));
        const tomlFile = new HostFile(`${name}-buildkitd-toml`, { connection: conn, path: BUILDKIT_CONFIG_PATH, content: toml }, child);
        // Files beside buildkitd.toml wait for it: it creates /etc/buildkit, and on destroy it goes last,
        // so the directory it created is empty when it is removed (the engine deletes in parallel).
        const inDir = { ...child, dependsOn: [...child.dependsOn, tomlFile] };
        const files = [
            tomlFile,
            new HostFile(
                `${name}-buildkit-socket-unit`,
                { connection: conn, path: "/etc/systemd/system/buildkit.socket", content: socketUnit },
                child,
            ),
            new HostFile(
                `${name}-buildkit-service-unit`,
                { connection: conn, path: "/etc/systemd/system/buildkit.service", content: serviceUnit },
                child,
            ),
            ...caFiles.map(
                (f) => new HostFile(`${name}-buildkit-ca-${f.registry}`, { connection: conn, path: f.path, content: f.content }, inDir),
            ),
            ...(withProxy
                ? [
                      new HostFile(
                          `${name}-buildkit-env`,
                          { connection: conn, path: BUILDKIT_ENV_PATH, content: envFile, mode: "0600" },
                          inDir,
                      ),
                  ]
                : []),
        ];
        // The socket only listens (nothing connects before the up is done), so it starts beside k3s.
        const socket = new SystemdService(
            `${name}-buildkit-socket`,
            { connection: conn, unit: "buildkit.socket", restartTriggers: [sha256Hex(socketUnit)] },
            { parent: this, dependsOn: [install, ...files] },
        );
        const triggers = [
            toml.apply(sha256Hex),
            sha256Hex(serviceUnit),
            ...caFiles.map((f) => sha256Hex(f.content)),
            settings.version,
            ...(withProxy ? [sha256Hex(envFile)] : []),
        ];
        const service = new SystemdService(
            `${name}-buildkit`,
            {
                connection: conn,
                unit: "buildkit.service",
                restartTriggers: triggers,
                // A restart waits for the builds running on the daemon (bounded), then restarts it.
                waitForBuilds: { buildkitAddress: BUILDKIT_ADDRESS, timeoutSeconds: settings.buildGraceSeconds },
                // Done when the daemon answers with its worker: the start and the wait are one step.
                readyScript: hostScript("buildkit-ready", { BUILDKIT_ADDR: BUILDKIT_ADDRESS, BUILDKIT_READY_TIMEOUT: 120 }),
            },
            { parent: this, dependsOn: [socket, ...args.startAfter] },
        );
        this.ready = service;
        // How big its cache is, read again on every refresh (information, not drift).
        this.cacheUsage = new BuildkitCacheUsage(
            `${name}-buildkit-cache-usage`,
            { connection: conn, address: BUILDKIT_ADDRESS },
            { parent: this, dependsOn: [this.ready] },
        ).usage;
        const schedule = settings.prune.schedule;
        if (schedule !== undefined) {
            // A scheduled prune: its units, then the timer enabled and started once the daemon is ready.
            const prune = { ...settings.prune, schedule };
            const unitFiles = {
                "buildkit-prune.service": renderUnit(buildkitPruneServiceUnit(prune)),
                "buildkit-prune.timer": renderUnit(buildkitPruneTimerUnit(prune)),
            };
            const units = Object.entries(unitFiles).map(
                ([unit, content]) =>
                    new HostFile(
                        `${name}-${unit.replace(".", "-")}-unit`,
                        { connection: conn, path: `/etc/systemd/system/${unit}`, content },
                        child,
                    ),
            );
            new SystemdService(
                `${name}-buildkit-prune-timer`,
                { connection: conn, unit: "buildkit-prune.timer", restartTriggers: Object.values(unitFiles).map(sha256Hex) },
                { parent: this, dependsOn: [this.ready, ...units] },
            );
        }
        this.registerOutputs({ version: this.version, tarballSha256: this.tarballSha256, address: this.address });
    }
}

/**
 * The BuildKit tarball checksum a host must see. BuildKit publishes none: the pinned one for the host's
 * architecture; else, on every host but the first, the one the first host saw when the architecture is the
 * same (trust on first use); else none ("": the host records what it downloaded).
 */
export function expectedBuildkitSha256(
    arch: pulumi.Output<string>,
    pinned: Readonly<Record<string, string>>,
    first?: { readonly arch: pulumi.Output<string>; readonly buildkit: { readonly tarballSha256: pulumi.Output<string> } },
): pulumi.Output<string> {
    if (first === undefined) return arch.apply((a) => pinned[a] ?? "");
    return pulumi
        .all([arch, first.arch, first.buildkit.tarballSha256])
        .apply(([a, firstArch, firstSha]) => pinned[a] ?? (a === firstArch ? firstSha : ""));
}
