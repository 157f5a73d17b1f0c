/**
 * `K3sNode` (`k3s-buildkit:host:K3sNode`): k3s on one host, as a server (first or joining) or an agent.
 *
 * Children, in order: config.yaml and registries.yaml (and registry CA files) as drift-detecting
 * HostFiles; the install step (binary verified against the release's sha256 file or a pinned checksum,
 * then the k3s install script with enable/start skipped); the drain step; the k3s unit's state as a
 * SystemdService restarted when a config file, the binary or the unit changes (the install script would
 * not); the ready check (Ready at the target version, then uncordon: on a server, in the step that
 * (re)starts it; on an agent, a step of its own on the server); on joining nodes (and on the first
 * server of a stack with a registration address), the membership step whose delete drains and deletes the
 * node before its uninstall; the certificates' expiry, rotated within the window; on the first server, the
 * kubeconfig (read again when the certificates change).
 *
 * Rolling restarts: the drain and the restart wait for `restartAfter` (the previous nodes' ready steps in
 * the rollout order the Platform builds), so a change restarts one node (or one agent batch) at a time.
 * The drain, the restart and the ready step share one trigger list: whenever a node is drained, it is
 * restarted and then uncordoned in the same up.
 */
import * as pulumi from "@pulumi/pulumi";
import { basename } from "node:path";
import type { ResolvedConfig } from "../config";
import { renderK3sConfig, renderK3sRegistries, type K3sRegistryModel } from "../render/k3s-yaml";
import { K3sCertificates } from "./certificates";
import { hostCommand, HostUpload } from "./step";
import type { HostConnection } from "./connection";
import type { HostHandle } from "./handle";
import { HostFile } from "./host-file";
import { sha256Hex } from "./host-file-provider";
import { SystemdService } from "./host-service";
import { rewriteKubeconfig } from "./kubeconfig";
import { hostScript } from "./scripts";

export const K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml";

/** `https://<address>:6443`, IPv6 bracketed: where joining nodes register. */
export function serverUrl(address: string): string {
    return `https://${address.includes(":") ? `[${address}]` : address}:6443`;
}
export const K3S_REGISTRIES_PATH = "/etc/rancher/k3s/registries.yaml";
/** Where a CA-pinned registry's certificate is written for k3s's containerd. */
export const k3sCaPath = (registry: string) => `/etc/rancher/k3s/certs/${registry}/ca.crt`;
/** Where CopyToRemote stages a local air-gap images tarball. */
export const airgapStagingPath = (file: string) => `/var/tmp/${basename(file)}`;

export interface K3sNodeArgs {
    /** The host, after its preflight. */
    readonly host: HostHandle;
    readonly role: "server" | "agent";
    /** k3s settings from stack config. */
    readonly settings: ResolvedConfig["k3s"];
    /** Registries from stack config. */
    readonly registries: ResolvedConfig["registries"];
    /** Registry passwords (secret). */
    readonly registryPasswords: pulumi.Input<Record<string, string>>;
    /** The cluster join token (secret). */
    readonly token: pulumi.Input<string>;
    /** `https://<first server>:6443` for joining nodes; undefined on the first server. */
    readonly serverUrl?: string;
    /** First server of a cluster with several servers: start embedded etcd. */
    readonly clusterInit: boolean;
    /** Servers: the address clients use (added as tls-san; written into the kubeconfig). */
    readonly apiAddress?: string;
    /** Where `k3s kubectl` answers, to drain this node and check it is Ready: itself for servers, the first server for agents. */
    readonly readinessHost: HostHandle;
    /** Resources every step waits for besides the host's preflight (the first-server guard, the etcd snapshot). */
    readonly after?: pulumi.Resource[];
    /**
     * What the drain, the (re)start and the certificate rotation wait for: the ready steps and certificates
     * of the nodes before this one in the rollout. @default []
     */
    readonly restartAfter?: pulumi.Resource[];
    /** Drain before a restart (`k3s.upgrade.drain`, and more than one node). */
    readonly drain: boolean;
    /** Where removing the host drains and deletes its node first: the first server for a joining node; itself for the first server of a stack with a registration address. */
    readonly removeVia?: HostConnection;
    /** What the removal step waits for (and so outlives): the first server's own removal step. @default [] */
    readonly removeAfter?: pulumi.Resource[];
    /** Read the admin kubeconfig off this server. @default false */
    readonly exportKubeconfig?: boolean;
    /** This host's own config.yaml keys (hosts[].k3sConfig), merged last. @default {} */
    readonly hostConfig?: Readonly<Record<string, unknown>>;
    /**
     * Proxy variables (stack proxy): the download uses them, and the installer writes the HTTP_PROXY,
     * HTTPS_PROXY, NO_PROXY and CONTAINERD_* ones into k3s's .env. @default {}
     */
    readonly proxyEnv?: Readonly<Record<string, string>>;
}

/** The registries.yaml model for stack registries; passwords filled in from the secret map. */
export function k3sRegistryModels(
    registries: ResolvedConfig["registries"],
    passwords: Readonly<Record<string, string>>,
): Record<string, K3sRegistryModel> {
    return Object.fromEntries(
        Object.entries(registries).map(([host, r]) => [
            host,
            {
                mirrors: r.runtimeMirrors,
                http: r.http,
                insecure: r.insecure,
                ...(r.ca === undefined ? {} : { caFile: k3sCaPath(host) }),
                ...(r.username === undefined ? {} : { username: r.username, password: passwords[host] ?? "" }),
            },
        ]),
    );
}

/** The restart triggers the install step prints: the binary's and the unit's (with its .env) checksums. */
export function parseInstallOutput(stdout: string): string[] {
    return ["k3s_sha256", "k3s_unit_sha256"].map((k) => new RegExp(`^${k}=([0-9a-f]{64})$`, "m").exec(stdout)?.[1] ?? "");
}

/** What a secret value shows as in previews and rendered files. */
export const MASKED = "[secret]";

export class K3sNode extends pulumi.ComponentResource {
    /** The installed k3s version. */
    public readonly version: string;
    /** sha256 of the installed k3s binary, as verified on the host. */
    public readonly binarySha256: pulumi.Output<string>;
    /** The earliest expiry of the node's k3s certificates (RFC 3339), as of the last up or refresh. */
    public readonly certificatesExpireAt: pulumi.Output<string>;
    /** The node's certificates: read, and rotated within the window. The next wave's restarts wait for it. */
    public readonly certificates: K3sCertificates;
    /** The node is Ready at the target version (and uncordoned): depend on this. */
    public readonly ready: pulumi.Resource;
    /** The step whose delete drains and deletes the node when the host leaves the stack (joining nodes; the first with a registration address). */
    public readonly member?: pulumi.Resource;
    /** The k3s unit's state; depend on it for things that need k3s's containerd. */
    public readonly service: SystemdService;
    /** The install step (binary, unit, data directory); it neither starts nor restarts k3s. */
    public readonly install: pulumi.Resource;
    /** Admin kubeconfig pointed at the registration address, else at this server's (secret); only with `exportKubeconfig`. */
    public readonly kubeconfig?: pulumi.Output<string>;

    constructor(name: string, args: K3sNodeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:host:K3sNode", name, {}, opts);
        const { host, settings: k3s } = args;
        const conn = host.connection;
        const after = [host.ready, ...(args.after ?? [])];
        const child = { parent: this, dependsOn: after };
        this.version = k3s.version;

        const registration = k3s.registrationAddress === undefined ? [] : [k3s.registrationAddress];
        const serverSans = args.role === "server" ? [...(args.apiAddress === undefined ? [] : [args.apiAddress]), ...registration] : [];
        const tlsSans = [...serverSans, ...k3s.tlsSans];
        const configModel = {
            role: args.role,
            nodeName: host.name,
            dataDir: k3s.dataDir,
            ...(args.serverUrl === undefined ? {} : { serverUrl: args.serverUrl }),
            clusterInit: args.clusterInit,
            tlsSans: [...new Set(tlsSans)],
            disable: k3s.disable,
            disableNetworkPolicy: k3s.disableNetworkPolicy,
            disableCloudController: k3s.disableCloudController,
            disableHelmController: k3s.disableHelmController,
        };
        // The escape hatches that apply to this node, in merge order.
        const extras = [k3s.extraConfig, args.role === "server" ? k3s.serverConfig : k3s.agentConfig, args.hostConfig ?? {}];
        const configYaml = pulumi.secret(pulumi.output(args.token).apply((token) => renderK3sConfig({ ...configModel, token }, extras)));
        const registriesYaml = pulumi.secret(
            pulumi.output(args.registryPasswords).apply((pw) => renderK3sRegistries(k3sRegistryModels(args.registries, pw))),
        );
        // What previews and render show: the same files with the token and passwords masked.
        const masked = Object.fromEntries(Object.keys(args.registries).map((r) => [r, MASKED]));
        const configPreview = renderK3sConfig({ ...configModel, token: MASKED }, extras);
        const registriesPreview = renderK3sRegistries(k3sRegistryModels(args.registries, masked));
        const configFile = new HostFile(
            `${name}-k3s-config`,
            { connection: conn, path: K3S_CONFIG_PATH, content: configYaml, preview: configPreview, mode: "0600" },
            child,
        );
        // Files beside config.yaml wait for it: it creates /etc/rancher/k3s, and on destroy it goes last,
        // so the directories it created are empty when it removes them (the engine deletes in parallel).
        const inDir = { ...child, dependsOn: [...child.dependsOn, configFile] };
        const files = [
            configFile,
            new HostFile(
                `${name}-k3s-registries`,
                { connection: conn, path: K3S_REGISTRIES_PATH, content: registriesYaml, preview: registriesPreview, mode: "0600" },
                inDir,
            ),
            ...Object.entries(args.registries)
                .filter(([, r]) => r.ca !== undefined)
                .map(
                    ([registry, r]) =>
                        new HostFile(
                            `${name}-k3s-ca-${registry}`,
                            { connection: conn, path: k3sCaPath(registry), content: r.ca ?? "" },
                            inDir,
                        ),
                ),
        ];

        const stageDeps: pulumi.Resource[] = [];
        let imagesPathOnHost = "";
        if (k3s.airgap.imagesPath !== undefined) {
            if (conn.config.kind === "local") {
                imagesPathOnHost = k3s.airgap.imagesPath;
            } else {
                imagesPathOnHost = airgapStagingPath(k3s.airgap.imagesPath);
                stageDeps.push(
                    new HostUpload(
                        `${name}-k3s-airgap-images`,
                        { connection: conn, source: k3s.airgap.imagesPath, remotePath: imagesPathOnHost },
                        child,
                    ),
                );
            }
        }
        const install = hostCommand(
            `${name}-k3s-install`,
            {
                connection: conn,
                create: host.arch.apply((arch) =>
                    hostScript("k3s-install", {
                        ARCH: arch,
                        K3S_VERSION: k3s.version,
                        K3S_BINARY_BASE_URL: k3s.binaryBaseUrl,
                        K3S_BINARY_LAYOUT: k3s.binaryLayout,
                        K3S_INSTALL_SCRIPT_URL: k3s.installScriptUrl,
                        K3S_ROLE: args.role,
                        K3S_SERVER_URL: args.serverUrl ?? "",
                        K3S_DATA_DIR: k3s.dataDir,
                        K3S_BINARY_SHA256: k3s.sha256[arch] ?? "",
                        K3S_AIRGAP_IMAGES_URL: k3s.airgap.imagesUrl ?? "",
                        K3S_AIRGAP_IMAGES_PATH: imagesPathOnHost,
                        ...(args.proxyEnv ?? {}),
                    }),
                ),
                delete: hostScript("k3s-uninstall", { K3S_ROLE: args.role, K3S_DATA_DIR: k3s.dataDir }),
                // Refused at preview: a version that skips a Kubernetes minor, or goes back, from what this host runs.
                versionGate: {
                    param: "K3S_VERSION",
                    key: "k3s.version",
                    override: "k3s.upgrade.allowVersionSkew",
                    allowSkew: k3s.upgrade.allowVersionSkew,
                },
            },
            { parent: this, dependsOn: [...after, ...stageDeps], deleteBeforeReplace: true },
        );
        this.install = install;
        this.binarySha256 = install.stdout.apply((out) => parseInstallOutput(out)[0]);

        const caContents = Object.values(args.registries).flatMap((r) => (r.ca === undefined ? [] : [r.ca]));
        // The install step neither starts nor restarts k3s: a new binary or unit (even under the same
        // version) runs once the unit restarts, which these triggers cause, one node at a time.
        const triggers = pulumi
            .all([configYaml, registriesYaml, install.stdout])
            .apply(([config, registries, out]) => [
                ...[config, registries, ...caContents].map((c) => sha256Hex(c)),
                k3s.version,
                ...parseInstallOutput(out),
            ]);
        const kubectlHost = args.readinessHost.connection;
        // Which restart the drain and ready steps belong to: the drain acts only while it differs from
        // what the ready step last recorded, so re-running it for a changed parameter drains nothing.
        // (A hash of hashes: nothing secret is left in it, so the steps' scripts and logs stay plain.)
        const stamp = pulumi.unsecret(triggers.apply((t) => sha256Hex(JSON.stringify(t))));
        const drain = hostCommand(
            `${name}-k3s-drain`,
            {
                connection: kubectlHost,
                create: stamp.apply((s) =>
                    hostScript("k3s-drain", {
                        K3S_NODE: host.name,
                        K3S_DRAIN: args.drain,
                        K3S_DRAIN_TIMEOUT: k3s.upgrade.drainTimeoutSeconds,
                        K3S_RESTART_STAMP: s,
                    }),
                ),
                triggers: [triggers],
                rerunOnNewHost: false,
            },
            { parent: this, dependsOn: [...after, ...(args.restartAfter ?? []), install] },
        );
        const readyScript = stamp.apply((s) =>
            hostScript("k3s-ready", {
                K3S_NODE: host.name,
                K3S_VERSION: k3s.version,
                K3S_CHECK_READYZ: args.role === "server",
                K3S_READY_TIMEOUT: k3s.readyTimeoutSeconds,
                K3S_RESTART_STAMP: s,
            }),
        );
        // A server answers kubectl itself: its readiness wait runs in the step that (re)starts it. An agent's
        // runs on the server, as a step of its own.
        const readyOnNode = kubectlHost === conn;
        this.service = new SystemdService(
            `${name}-k3s`,
            {
                connection: conn,
                unit: args.role === "server" ? "k3s.service" : "k3s-agent.service",
                restartTriggers: triggers,
                // k3s's unit is Type=notify with TimeoutStartSec=0: without a bound, a node that never gets
                // ready (a refused token, no quorum) would hold the up forever.
                startTimeoutSeconds: k3s.readyTimeoutSeconds,
                ...(readyOnNode ? { readyScript } : {}),
            },
            { parent: this, dependsOn: [install, ...files, drain] },
        );
        this.ready = readyOnNode
            ? this.service
            : hostCommand(
                  `${name}-k3s-ready`,
                  { connection: kubectlHost, create: readyScript, triggers: [triggers], rerunOnNewHost: false },
                  { parent: this, dependsOn: [this.service] },
              );
        if (args.removeVia !== undefined) {
            // Does nothing while the host is in config; once it is removed, its delete (run before the
            // uninstall, as this depends on the node being Ready) drains the node and deletes it. After
            // the first server's own (with a registration address), so a destroy removes it last.
            this.member = hostCommand(
                `${name}-k3s-member`,
                {
                    connection: args.removeVia,
                    create: hostScript("k3s-member", { K3S_NODE: host.name }),
                    rerunOnNewHost: false,
                    delete: hostScript("k3s-remove", {
                        K3S_NODE: host.name,
                        K3S_DRAIN: args.drain,
                        K3S_DRAIN_TIMEOUT: k3s.upgrade.drainTimeoutSeconds,
                    }),
                },
                { parent: this, dependsOn: [this.ready, ...(args.removeAfter ?? [])] },
            );
        }
        // When its certificates expire, as k3s reports it once the node is up, and again on every refresh;
        // within the window, rotated (drained, stopped, rotated, started, Ready, uncordoned). After the
        // previous wave's nodes, whose own rotations are done: one node at a time, servers first.
        const rotationStep = (script: "k3s-drain" | "k3s-ready") =>
            hostScript(script, {
                K3S_NODE: host.name,
                K3S_DRAIN: args.drain,
                K3S_DRAIN_TIMEOUT: k3s.upgrade.drainTimeoutSeconds,
                // Any version: a rotation changes none (and the plan stays the same across a k3s upgrade).
                K3S_VERSION: "",
                K3S_CHECK_READYZ: args.role === "server",
                K3S_READY_TIMEOUT: k3s.readyTimeoutSeconds,
                K3S_RESTART_STAMP: "",
            });
        this.certificates = new K3sCertificates(
            `${name}-k3s-certificates`,
            {
                connection: conn,
                dataDir: k3s.dataDir,
                kubectl: kubectlHost,
                rotation: {
                    daysBefore: k3s.certificates.rotateDaysBefore,
                    unit: args.role === "server" ? "k3s.service" : "k3s-agent.service",
                    startTimeoutSeconds: k3s.readyTimeoutSeconds,
                    drainScript: rotationStep("k3s-drain"),
                    readyScript: rotationStep("k3s-ready"),
                },
            },
            { parent: this, dependsOn: [this.ready, ...(args.restartAfter ?? [])] },
        );
        this.certificatesExpireAt = this.certificates.expiresAt;
        if (args.exportKubeconfig === true) {
            // Read again whenever the certificates change: k3s writes the new admin certificate into it at start.
            const read = hostCommand(
                `${name}-kubeconfig`,
                { connection: conn, create: hostScript("kubeconfig"), secretOutput: true, triggers: [this.certificatesExpireAt] },
                { parent: this, dependsOn: [this.ready, this.certificates] },
            );
            const address = k3s.registrationAddress ?? args.apiAddress ?? "127.0.0.1";
            this.kubeconfig = pulumi.secret(read.stdout.apply((text) => rewriteKubeconfig(text, address)));
        }
        this.registerOutputs({ version: this.version, binarySha256: this.binarySha256, certificatesExpireAt: this.certificatesExpireAt });
    }
}
