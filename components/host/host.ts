/**
 * `Host` (`k3s-buildkit:host:Host`): one machine, reached over SSH or locally. It runs the preflight
 * check (root or working `sudo -n`, systemd as init, required tools, a supported architecture) before
 * anything else touches the machine, and exposes the connection for the install components.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedHost } from "../config";
import { hostCommand } from "./step";
import type { HostConnection } from "./connection";
import { scriptBody } from "./scripts";
import { renderScript } from "./shell";

export interface HostArgs {
    /** The host's settings from stack config. */
    readonly host: ResolvedHost;
    /** How to reach it, with its secrets. */
    readonly connection: HostConnection;
    /** Commands the host's work needs besides the usual ones (e.g. `git` for a host build with a git context). @default [] */
    readonly requires?: readonly string[];
}

/** Parses the preflight script's output (`arch=amd64`). */
export function parsePreflight(stdout: string): { arch: "amd64" | "arm64" } {
    const m = /^arch=(amd64|arm64)$/m.exec(stdout);
    if (m === null) throw new Error(`preflight printed no architecture: ${JSON.stringify(stdout.slice(0, 200))}`);
    return { arch: m[1] as "amd64" | "arm64" };
}

export class Host extends pulumi.ComponentResource {
    /** Host name from stack config. */
    public readonly name: string;
    /** How to reach the host; install components run their steps through it. */
    public readonly connection: HostConnection;
    /** `amd64` or `arm64`, as found by the preflight check. */
    public readonly arch: pulumi.Output<string>;
    /** The preflight step; install steps depend on it. */
    public readonly ready: pulumi.Resource;

    constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k3s-buildkit:host:Host", name, {}, opts);
        this.name = args.host.name;
        this.connection = args.connection;
        const preflight = hostCommand(
            `${name}-preflight`,
            {
                connection: args.connection,
                // Only hosts that need more tools get the parameter: the others' preflight stays as it was.
                create: renderScript(
                    scriptBody("preflight"),
                    (args.requires ?? []).length === 0 ? {} : { EXTRA_TOOLS: [...(args.requires ?? [])].sort().join(" ") },
                ),
            },
            { parent: this },
        );
        this.ready = preflight;
        this.arch = preflight.stdout.apply((out) => parsePreflight(out).arch);
        this.registerOutputs({ arch: this.arch });
    }
}
