/**
 * The main job end to end on one booted machine, under the real engine (npm run test:host): the dev stack's
 * shape — a server, a host build, the in-cluster daemon and a Deployment running the build by digest — with
 * nothing switched off. k3s is the FIXTURE, its API real (kube-apiserver, etcd and kube-controller-manager in
 * the machine); BuildKit is real, on k3s's containerd. The program reads the kubeconfig off the server and,
 * through it, the real Kubernetes provider applies the cluster layer. No kubelet runs pods here:
 * test/harness/node-standin.ts plays server-1's kubelet and the scheduler, on the node the fixture registered.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";
import { apiCaller, type KubeApiServer } from "../harness/kube-apiserver";
import { bootMachine, type Machine } from "../harness/machine";
import { type NodeStandIn, standInNode } from "../harness/node-standin";
import { PulumiCli } from "../harness/pulumi";
import { hostState, stackFor, stateDiff } from "./common";

let m: Machine;
let mirror: Mirror;
let certs: string;
let pristine: string;
let call: KubeApiServer["call"] | undefined;
let kubelet: NodeStandIn | undefined;
let watching = true;
let watcher: Promise<void> = Promise.resolve();
let firstDigest = "";
const engine = new PulumiCli();
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** The dev stack's shape on this machine (no `cluster.enabled: false`); `hello` is the built file's text. */
function stack(hello = "hello from the dev stack\n"): Record<string, unknown> {
    const base = stackFor([m], mirror);
    delete base.cluster;
    return {
        ...base,
        hostBuilds: [
            {
                name: "hello",
                context: { files: { Dockerfile: "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": hello } },
                tags: ["hello:dev"],
            },
        ],
        deployments: [{ name: "hello", build: "hello" }],
    };
}

/**
 * Once the server's k3s answers and has registered its node, the kubelet stand-in takes that node over,
 * with k3s.yaml's admin credentials (the API is on this host's loopback: the machines share its network).
 */
function watchForTheNode(): Promise<void> {
    return (async () => {
        while (watching) {
            const yaml = await m.exec("cat /etc/rancher/k3s/k3s.yaml 2>/dev/null || true");
            if (yaml !== "") {
                const k = parse(yaml) as {
                    clusters: { cluster: Record<string, string> }[];
                    users: { user: Record<string, string> }[];
                };
                const b64 = (s: string) => Buffer.from(s, "base64").toString();
                const c = apiCaller("https://127.0.0.1:6443", {
                    ca: b64(k.clusters[0].cluster["certificate-authority-data"]),
                    cert: b64(k.users[0].user["client-certificate-data"]),
                    key: b64(k.users[0].user["client-key-data"]),
                });
                if ((await c("GET", "/api/v1/nodes/server-1").catch(() => undefined))?.status === 200) {
                    for (const f of ["serving-kube-apiserver.crt", "serving-kube-apiserver.key"]) {
                        writeFileSync(join(certs, f), await m.exec(`cat /data/k3s/server/tls/${f}`));
                    }
                    call = c;
                    kubelet = await standInNode(c, "server-1", VERSIONS.k3s, {
                        cert: join(certs, "serving-kube-apiserver.crt"),
                        key: join(certs, "serving-kube-apiserver.key"),
                    });
                    return;
                }
            }
            await sleep(1000);
        }
    })();
}

/** An object of the API (as the admin), or undefined when absent. */
async function get<T>(path: string): Promise<T | undefined> {
    assert.ok(call !== undefined, "the API was reached");
    const r = await call("GET", path);
    return r.status === 200 ? (r.body as T) : undefined;
}

before(async () => {
    mirror = await startMirror();
    certs = mkdtempSync(join(tmpdir(), "k3sbk-dev-kubelet-"));
    m = await bootMachine("k3sbk-dev");
    pristine = await hostState(m);
});
after(async () => {
    watching = false;
    await watcher;
    await kubelet?.stop();
    engine.close();
    await m?.stop();
    await mirror?.close();
    if (certs !== undefined) rmSync(certs, { recursive: true, force: true });
});

describe("the dev stack's whole chain: host, kubeconfig, cluster layer, a Deployment of a host build", () => {
    it("one pulumi up: k3s and BuildKit on the host, the build in k3s's containerd, the daemon and the Deployment ready through the real API", async () => {
        watcher = watchForTheNode();
        const t0 = Date.now();
        const r = await engine.up(stack(), ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        const seconds = ((Date.now() - t0) / 1000).toFixed(1);
        const outputs = r.outputs as { kubeconfig: string; builds: Record<string, { digest: string; ref: string }> };
        assert.match(outputs.kubeconfig, /server: https:\/\/127\.0\.0\.1:6443/, "the kubeconfig read off the server");
        const built = outputs.builds.hello;
        assert.match(built.digest, /^sha256:[0-9a-f]{64}$/);
        firstDigest = built.digest;

        const node = await get<{ status: { nodeInfo: { kubeletVersion: string } } }>("/api/v1/nodes/server-1");
        assert.equal(node?.status.nodeInfo.kubeletVersion, VERSIONS.k3s, "the node the fixture registered, at its k3s version");
        type Deployment = {
            spec: { template: { spec: { containers: { image: string }[]; nodeSelector?: Record<string, string> } } };
            status: { availableReplicas?: number };
        };
        const deployments = await get<{ items: (Deployment & { metadata: { name: string; namespace: string } })[] }>(
            "/apis/apps/v1/deployments",
        );
        const hello = deployments?.items.find((d) => d.metadata.name === "hello");
        assert.ok(hello !== undefined, `a Deployment hello: ${JSON.stringify(deployments?.items.map((d) => d.metadata))}`);
        assert.equal(hello.spec.template.spec.containers[0].image, built.ref, "the build, by digest");
        assert.ok(built.ref.endsWith(`@${built.digest}`), built.ref);
        assert.deepEqual(hello.spec.template.spec.nodeSelector, { "kubernetes.io/hostname": "server-1" }, "on the node that has it");
        assert.equal(hello.status.availableReplicas, 1, "available: its pod ran and is ready");
        const daemon = await get<{ status: { readyReplicas?: number } }>("/apis/apps/v1/namespaces/buildkit/statefulsets/buildkitd");
        assert.equal(daemon?.status.readyReplicas, 1, "the in-cluster daemon's replica is ready");
        console.log(
            `# dev stack: one up in ${seconds} s (${r.executed.length} steps); hello ${built.ref} available; buildkitd 1/1 ready; node server-1 at ${VERSIONS.k3s}`,
        );
    });

    it("a second preview changes nothing", async () => {
        const again = await engine.preview(stack(), ["sshPrivateKey"], true);
        assert.equal(again.status, 0, `no change left:\n${again.log.slice(-3000)}`);
    });

    it("a rebuild rolls the Deployment: the preview shows an update, not a replacement; up leaves the new build available", async () => {
        const changed = stack("hello again\n");
        const preview = await engine.preview(changed, ["sshPrivateKey"]);
        assert.equal(preview.status, 0, preview.log.slice(-3000));
        assert.deepEqual(preview.replaced, [], "nothing is replaced (a replaced Deployment is deleted first)");
        const r = await engine.up(changed, ["sshPrivateKey"]);
        assert.deepEqual(r.failures, []);
        assert.deepEqual(r.replaced, []);
        const built = (r.outputs as { builds: Record<string, { digest: string; ref: string }> }).builds.hello;
        assert.notEqual(built.digest, firstDigest, "a new build");
        type Deployment = {
            spec: { template: { spec: { containers: { image: string }[] } } };
            status: { availableReplicas?: number; updatedReplicas?: number };
        };
        const hello = await get<Deployment>("/apis/apps/v1/namespaces/default/deployments/hello");
        assert.equal(hello?.spec.template.spec.containers[0].image, built.ref);
        assert.deepEqual([hello?.status.updatedReplicas, hello?.status.availableReplicas], [1, 1], "rolled out and available");
        console.log(`# rebuild: preview ${JSON.stringify(preview.ops)}; the Deployment rolled to ${built.ref}`);
    });

    it("destroy removes the cluster layer, then the host layer: the machine is as it was", async () => {
        const deleted = await engine.destroy();
        for (const name of ["deployment-default-hello", "server-1-k3s-install"])
            assert.ok(deleted.includes(name), `${name} deleted: ${deleted.join(", ")}`);
        assert.ok(
            deleted.indexOf("deployment-default-hello") < deleted.indexOf("server-1-k3s-install"),
            `the cluster layer before the host layer: ${deleted.join(", ")}`,
        );
        assert.deepEqual(stateDiff(pristine, await hostState(m)), { removed: [], added: [] });
    });
});
