/**
 * Resource identity across the move to the Platform tree. Stacks created before it had every component
 * (hosts, k3s, BuildKit, nerdctl, builds, the cluster's provider and daemon) at the stack's root; now they
 * sit under `Platform` and its per-host and cluster components. Type tokens and names are unchanged; the
 * parent chain in the URN is what moved.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a resource that sat at the stack's root before the Platform tree and now sits under
 * `parent`: its old root URN as an alias, so the engine moves it in state instead of replacing it. Its
 * children's old URNs follow from this alias (the engine derives them from the parent's).
 */
export function moved(
    parent: pulumi.Resource,
    type: string,
    name: string,
    opts: pulumi.CustomResourceOptions = {},
): pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions {
    return { ...opts, parent, aliases: [pulumi.createUrn(name, type)] };
}
