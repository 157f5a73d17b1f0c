/**
 * A Deployment that runs a built image by digest (seed 000's devcontainer: rebuild, then rollout).
 * The image reference carries the digest, so a new build changes the pod template and rolls the
 * Deployment; an unchanged build leaves it alone.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

export interface WorkloadInputs {
    readonly name: string;
    /**
     * `repository@sha256:…`; an Output when the build is one. Only this field may be unknown in a preview: a
     * spec that is unknown as a whole makes the Kubernetes provider preview a replacement (delete, then
     * create) of the Deployment where a rebuild is an update that rolls it.
     */
    readonly image: pulumi.Input<string>;
    readonly replicas: number;
    readonly command: readonly string[];
    /**
     * For an image built on a host (only that node's containerd has it): the node to run on, and no
     * pull (`Never`). Otherwise pulled from the registry when missing (`IfNotPresent`).
     */
    readonly hostNode?: string;
}

export const workloadLabels = (name: string) =>
    ({ "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "k3s-buildkit" }) as const;

export function deploymentSpec(i: WorkloadInputs): k8s.types.input.apps.v1.DeploymentSpec {
    return {
        replicas: i.replicas,
        selector: { matchLabels: { ...workloadLabels(i.name) } },
        template: {
            metadata: { labels: { ...workloadLabels(i.name) } },
            spec: {
                ...(i.hostNode === undefined ? {} : { nodeSelector: { "kubernetes.io/hostname": i.hostNode } }),
                containers: [
                    {
                        name: i.name,
                        image: i.image,
                        imagePullPolicy: i.hostNode === undefined ? "IfNotPresent" : "Never",
                        ...(i.command.length === 0 ? {} : { command: [...i.command] }),
                    },
                ],
            },
        },
    };
}
