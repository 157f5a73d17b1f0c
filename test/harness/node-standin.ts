/**
 * The scheduler and the kubelet of one node, played through the real API server where neither can run (no
 * kubelet runs pods on this machine). What the controllers and the Kubernetes provider read is written the
 * way the real components write it:
 * - the Node, registered with its kubelet version and a Ready condition (as the kubelet registers);
 * - every pending pod bound to it through the `binding` subresource (as the scheduler binds);
 * - a bound pod that is not a Job's: Running, an IP of the pod range, every container running and ready, the
 *   Ready condition true (as the kubelet reports a started pod) — kube-controller-manager then counts it as
 *   a ready replica and puts its IP in its Services' Endpoints;
 * - a pod being deleted: removed once its grace begins, as the kubelet does once its containers stopped;
 * - containers' logs, served on the kubelet's HTTPS port (`/containerLogs/<ns>/<pod>/<container>`, with
 *   `tailLines` and `follow`), which the API server's `pods/<name>/log` proxies to, as to a real kubelet.
 *   Tests write them with `appendLog` and end them (the container exited) with `endLog`.
 * A Job's pods are left Pending to their test, which writes how they ran and ended, as the kubelet would.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { ServerResponse } from "node:http";
import type { KubeApiServer } from "./kube-apiserver";

export interface NodeStandIn {
    readonly name: string;
    /** Appends to the log of pod `namespace/pod`'s (only) container. */
    appendLog(namespace: string, pod: string, text: string): void;
    /** The container exited: followers of its log get the end of the stream. */
    endLog(namespace: string, pod: string): void;
    stop(): Promise<void>;
}

/** What the kubelet reports of a pod's containers: running (and ready), or exited with a code and the message they wrote. */
export type ContainerReport = { readonly running: true; readonly ip?: string } | { readonly exitCode: number; readonly message?: string };

/** The pod's `status` as the kubelet writes it for `report` (one state for every container). */
export function kubeletPodStatus(containers: readonly { name: string; image: string }[], podName: string, report: ContainerReport): object {
    const t = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const ended = "exitCode" in report;
    const condition = (type: string, status: boolean) => ({
        type,
        status: status ? "True" : "False",
        lastTransitionTime: t,
        ...(ended && !status ? { reason: "PodCompleted" } : {}),
    });
    const ip = ended ? undefined : report.ip;
    return {
        phase: ended ? (report.exitCode === 0 ? "Succeeded" : "Failed") : "Running",
        hostIP: "127.0.0.1",
        hostIPs: [{ ip: "127.0.0.1" }],
        ...(ip === undefined ? {} : { podIP: ip, podIPs: [{ ip }] }),
        startTime: t,
        conditions: [
            condition("PodScheduled", true),
            condition("Initialized", true),
            condition("PodReadyToStartContainers", !ended),
            condition("ContainersReady", !ended),
            condition("Ready", !ended),
        ],
        containerStatuses: containers.map((c) => ({
            name: c.name,
            image: c.image,
            imageID: "",
            containerID: `containerd://${podName}-${c.name}`,
            ready: !ended,
            started: !ended,
            restartCount: 0,
            state: ended
                ? {
                      terminated: {
                          exitCode: report.exitCode,
                          reason: report.exitCode === 0 ? "Completed" : "Error",
                          ...(report.message === undefined ? {} : { message: report.message }),
                          startedAt: t,
                          finishedAt: t,
                      },
                  }
                : { running: { startedAt: t } },
        })),
    };
}

/** Writes {@link kubeletPodStatus} to the pod's `status` subresource, as the kubelet does. */
export async function reportContainers(
    call: KubeApiServer["call"],
    pod: { metadata: { name: string; namespace: string }; spec: { containers: { name: string; image: string }[] } },
    report: ContainerReport,
): Promise<void> {
    const { name, namespace } = pod.metadata;
    const r = await call(
        "PATCH",
        `/api/v1/namespaces/${namespace}/pods/${name}/status`,
        JSON.stringify({ status: kubeletPodStatus(pod.spec.containers, name, report) }),
        "application/strategic-merge-patch+json",
    );
    if (r.status !== 200) throw new Error(`pod ${namespace}/${name} status: ${r.status} ${JSON.stringify(r.body)}`);
}

/** The kubelet's log endpoint for the stand-in node: its port, and the stores tests write to. */
async function kubeletLogs(certFile: string, keyFile: string) {
    const logs = new Map<string, string>();
    const followers = new Map<string, Set<ServerResponse>>();
    const ended = new Set<string>();
    const server: Server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
        const url = new URL(req.url ?? "/", "https://kubelet");
        const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/[^/]+$/.exec(url.pathname);
        if (m === null) {
            res.statusCode = 404;
            res.end("not found");
            return;
        }
        const key = `${m[1]}/${m[2]}`;
        let text = logs.get(key) ?? "";
        const tail = url.searchParams.get("tailLines");
        if (tail !== null) {
            const lines = text.split("\n");
            const last = lines.at(-1) === "" ? lines.slice(0, -1) : lines;
            text = last.slice(-Number(tail)).join("\n") + (last.length > 0 ? "\n" : "");
        }
        res.setHeader("Content-Type", "text/plain");
        res.write(text);
        if (url.searchParams.get("follow") !== "true" || ended.has(key)) {
            res.end();
            return;
        }
        const set = followers.get(key) ?? new Set();
        set.add(res);
        followers.set(key, set);
        res.on("close", () => set.delete(res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
        port: (server.address() as AddressInfo).port,
        append(key: string, text: string) {
            logs.set(key, (logs.get(key) ?? "") + text);
            for (const r of followers.get(key) ?? []) r.write(text);
        },
        end(key: string) {
            ended.add(key);
            for (const r of followers.get(key) ?? []) r.end();
            followers.delete(key);
        },
        close: () =>
            new Promise<void>((resolve) => {
                for (const set of followers.values()) for (const r of set) r.end();
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}

interface Pod {
    metadata: {
        name: string;
        namespace: string;
        deletionTimestamp?: string;
        ownerReferences?: { kind: string }[];
    };
    spec: { nodeName?: string; containers: { name: string; image: string }[] };
    status?: { phase?: string; podIP?: string };
}

/** Registers `node` (or takes over one registered already) and serves it until stopped; its kubelet's serving certificate and key are the files given. */
export async function standInNode(
    call: KubeApiServer["call"],
    node: string,
    kubeletVersion: string,
    serving: { cert: string; key: string },
): Promise<NodeStandIn> {
    const kubelet = await kubeletLogs(serving.cert, serving.key);
    const created = await call("POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: node, labels: { "kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" } },
    });
    // (409: registered already, by the k3s fixture's own node: the stand-in then plays that node's kubelet)
    if (created.status !== 201 && created.status !== 409) {
        throw new Error(`registering node ${node}: ${created.status} ${JSON.stringify(created.body)}`);
    }
    const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const nodeStatus = await call(
        "PATCH",
        `/api/v1/nodes/${node}/status`,
        JSON.stringify({
            status: {
                conditions: [
                    {
                        type: "Ready",
                        status: "True",
                        reason: "KubeletReady",
                        message: "kubelet is posting ready status",
                        lastHeartbeatTime: now(),
                        lastTransitionTime: now(),
                    },
                ],
                addresses: [
                    { type: "InternalIP", address: "127.0.0.1" },
                    { type: "Hostname", address: node },
                ],
                // The kubelet's HTTPS port: the API server proxies pods/log there.
                daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } },
                capacity: { cpu: "2", memory: "24Gi", pods: "110" },
                allocatable: { cpu: "2", memory: "24Gi", pods: "110" },
                nodeInfo: {
                    kubeletVersion,
                    kubeProxyVersion: kubeletVersion,
                    containerRuntimeVersion: "containerd://2.1.5-k3s1",
                    operatingSystem: "linux",
                    architecture: "amd64",
                    osImage: "Debian GNU/Linux 12 (bookworm)",
                    kernelVersion: "6.1.0",
                    machineID: "",
                    systemUUID: "",
                    bootID: "",
                },
            },
        }),
        "application/strategic-merge-patch+json",
    );
    if (nodeStatus.status !== 200) throw new Error(`node ${node} status: ${nodeStatus.status} ${JSON.stringify(nodeStatus.body)}`);

    let nextIp = 10;
    const step = async () => {
        const list = await call("GET", "/api/v1/pods");
        for (const pod of (list.body as { items?: Pod[] }).items ?? []) {
            const { name, namespace } = pod.metadata;
            const at = `/api/v1/namespaces/${namespace}/pods/${name}`;
            if (pod.metadata.deletionTimestamp !== undefined) {
                if (pod.spec.nodeName === node) await call("DELETE", at, { gracePeriodSeconds: 0 });
                continue;
            }
            if (pod.spec.nodeName === undefined) {
                if (pod.status?.phase === "Pending" || pod.status?.phase === undefined) {
                    await call("POST", `${at}/binding`, {
                        apiVersion: "v1",
                        kind: "Binding",
                        metadata: { name },
                        target: { kind: "Node", name: node },
                    });
                }
                continue;
            }
            if (pod.spec.nodeName !== node || pod.status?.podIP !== undefined) continue;
            if ((pod.metadata.ownerReferences ?? []).some((o) => o.kind === "Job")) continue;
            await reportContainers(call, pod, { running: true, ip: `10.42.0.${nextIp++}` });
        }
    };
    let running = true;
    const loop = (async () => {
        while (running) {
            await step().catch(() => undefined);
            await new Promise((res) => setTimeout(res, 300));
        }
    })();
    return {
        name: node,
        appendLog: (namespace, pod, text) => kubelet.append(`${namespace}/${pod}`, text),
        endLog: (namespace, pod) => kubelet.end(`${namespace}/${pod}`),
        stop: async () => {
            running = false;
            await loop;
            await kubelet.close();
        },
    };
}
