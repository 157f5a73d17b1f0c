/**
 * What the program reads from a cluster it did not install (bring your own) before deploying into it: the
 * labels of an existing namespace, to refuse at preview a namespace whose Pod Security level would refuse
 * the daemon. Read with the build results' client (components/builds/kube-client.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { kubeAccess, kubeGet } from "../builds/kube-client";
import { namespaceRefusal, podSecurityLabels, type PodSecurityLevel } from "./pod-security";

/** The labels of namespace `ns`; undefined when it does not exist or cannot be read (a warning says why). */
export async function readNamespaceLabels(kubeconfig: string, ns: string): Promise<Record<string, string> | undefined> {
    try {
        const found = await kubeGet<{ metadata?: { labels?: Record<string, string> } }>(
            kubeAccess(kubeconfig),
            `/api/v1/namespaces/${ns}`,
            10_000,
        );
        return found === undefined ? undefined : (found.metadata?.labels ?? {});
    } catch (e) {
        void pulumi.log.warn(`could not read namespace ${ns} to check its Pod Security labels: ${(e as Error).message}`);
        return undefined;
    }
}

/** Replaced under Pulumi's mocks (tools/evaluate), where there is no cluster. */
export const clusterReads = { namespaceLabels: readNamespaceLabels };

/**
 * The daemon's namespace labels for a cluster brought along, after checking that namespace `ns`, if it
 * exists, does not refuse pods of `level`: a refusal throws its message (naming cluster.namespace and the
 * label) as an error of `at`, without a stack (the engine prints it as the error of that resource), which
 * fails the preview.
 */
export async function admittingLabels(
    kubeconfig: string,
    ns: string,
    level: PodSecurityLevel,
    at: pulumi.Resource,
): Promise<Record<string, string>> {
    const existing = await clusterReads.namespaceLabels(kubeconfig, ns);
    const refusal = existing === undefined ? undefined : namespaceRefusal(ns, existing, level);
    if (refusal !== undefined) throw new pulumi.ResourceError(refusal, at, true);
    return podSecurityLabels(level);
}
