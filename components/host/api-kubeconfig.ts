/**
 * The kubeconfig the program itself uses to reach the API (the Kubernetes provider, the build-result
 * reader): the exported one, or, with the API tunnel (on by default when the first host sits behind a
 * bastion), the same pointed at the tunnel's local port, TLS still verified against the apiAddress.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ResolvedConfig } from "../config";
import { transportTarget } from "./connection";
import type { HostHandle } from "./handle";
import { tunnelKubeconfig } from "./kubeconfig";
import { apiTunnel, defaultTunnelPort } from "./tunnel";

export function apiKubeconfig(
    kubeconfig: pulumi.Output<string>,
    host: HostHandle,
    first: ResolvedConfig["hosts"][number],
    tunnel: ResolvedConfig["cluster"]["apiTunnel"],
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
