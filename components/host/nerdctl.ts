/**
 * `Nerdctl` (`k3s-buildkit:host:Nerdctl`): nerdctl from the minimal archive (verified against the
 * release's SHA256SUMS) and `/etc/nerdctl/nerdctl.toml` pointing at k3s's containerd. `nerdctl build`
 * finds the host BuildKit at its default socket, /run/buildkit/buildkitd.sock.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedConfig } from "../config";
import { renderNerdctlToml } from "../render/nerdctl-toml";
import { hostCommand } from "./step";
import type { HostHandle } from "./handle";
import { HostFile } from "./host-file";
import { hostScript } from "./scripts";

export const NERDCTL_CONFIG_PATH = "/etc/nerdctl/nerdctl.toml";

export interface NerdctlArgs {
    readonly host: HostHandle;
    readonly settings: ResolvedConfig["nerdctl"];
    /** The containerd namespace BuildKit builds into; nerdctl shows the same images. */
    readonly namespace: string;
    readonly registries: ResolvedConfig["registries"];
    /** k3s's data directory (nerdctl reads the registry hosts files k3s writes there). */
    readonly k3sDataDir: string;
    /** Resources nerdctl waits for (k3s Ready). */
    readonly after: pulumi.Resource[];
    /** Proxy variables for the download (stack proxy). @default {} */
    readonly proxyEnv?: Readonly<Record<string, string>>;
}

export class Nerdctl extends pulumi.ComponentResource {
    public readonly version: string;
    /** sha256 of the archive, as verified against SHA256SUMS on the host. */
    public readonly archiveSha256: pulumi.Output<string>;

    constructor(name: string, args: NerdctlArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:host:Nerdctl", name, {}, opts);
        const { host, settings } = args;
        const child = { parent: this, dependsOn: [host.ready, ...args.after] };
        this.version = settings.version;
        const install = hostCommand(
            `${name}-nerdctl-install`,
            {
                connection: host.connection,
                create: host.arch.apply((arch) =>
                    hostScript("nerdctl-install", {
                        NERDCTL_VERSION: settings.version,
                        NERDCTL_BASE_URL: settings.downloadBaseUrl,
                        ARCH: arch,
                        ...(args.proxyEnv ?? {}),
                    }),
                ),
                delete: hostScript("nerdctl-uninstall"),
            },
            { ...child, deleteBeforeReplace: true },
        );
        this.archiveSha256 = install.stdout.apply((out) => /^nerdctl_sha256=([0-9a-f]{64})$/m.exec(out)?.[1] ?? "");
        const insecureRegistry = Object.values(args.registries).some((r) => r.http || r.insecure);
        new HostFile(
            `${name}-nerdctl-toml`,
            {
                connection: host.connection,
                path: NERDCTL_CONFIG_PATH,
                content: renderNerdctlToml({ namespace: args.namespace, insecureRegistry, k3sDataDir: args.k3sDataDir }),
            },
            child,
        );
        this.registerOutputs({ version: this.version, archiveSha256: this.archiveSha256 });
    }
}
