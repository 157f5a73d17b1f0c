/**
 * The build result against a REAL Kubernetes API server (kube-apiserver, etcd and kube-controller-manager built
 * from their Go modules, test/harness/kube-apiserver.ts): real Jobs, whose pods the Job controller creates and
 * whose conditions (Complete; Failed with BackoffLimitExceeded) it sets. What only a kubelet would do — run the
 * container, write its status and termination message, serve its log — the test does through the API and the
 * stand-in node's kubelet endpoint, which the server's `pods/log` proxies to. The digest comes from the build's
 * own metadata, progress streams while the Job runs, a failed build fails with the tail of its log, and a
 * refresh notices a deleted Job.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse, stringify } from "yaml";
import { awaitBuild, buildResultProvider, type BuildResultOutputs } from "../../components/builds/build-result-provider";
import { kubeAccess } from "../../components/builds/kube-client";
import { type KubeApiServer, startKubeApiServer } from "../harness/kube-apiserver";
import { type ContainerReport, reportContainers } from "../harness/node-standin";

const DIGEST = `sha256:${"7e".repeat(32)}`;
const METADATA = JSON.stringify({
    "containerimage.config.digest": `sha256:${"c0".repeat(32)}`,
    "containerimage.descriptor": { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: DIGEST, size: 481 },
    "containerimage.digest": DIGEST,
    "image.name": "registry.dev:5000/hello:1",
});

let api: KubeApiServer;
before(async () => {
    api = await startKubeApiServer({ controllers: true });
    for (const ns of ["buildkit", "ci"]) {
        assert.equal((await api.call("POST", "/api/v1/namespaces", { metadata: { name: ns } })).status, 201);
    }
});
after(async () => api?.stop());

/** The kubeconfig with its user's fields replaced (k3s.yaml as the admin would edit it). */
function kubeconfigWith(user: Record<string, unknown>): string {
    const doc = parse(api.kubeconfig) as { users: { user: Record<string, unknown> }[] };
    doc.users[0].user = user;
    return stringify(doc);
}

type Pod = { metadata: { name: string }; spec: { nodeName?: string } };

/** A Job as the program makes one (one container, never restarted), retried `backoffLimit` times. */
async function createJob(ns: string, name: string, backoffLimit = 0): Promise<void> {
    const r = await api.call("POST", `/apis/batch/v1/namespaces/${ns}/jobs`, {
        metadata: { name },
        spec: {
            backoffLimit,
            template: {
                spec: {
                    restartPolicy: "Never",
                    containers: [{ name: "buildctl", image: "docker.io/moby/buildkit:v0.33.1", command: ["buildctl-daemonless.sh"] }],
                },
            },
        },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
}

/** The Job's pods bound to the node, oldest first, waiting until there are `count`. */
async function podsOf(ns: string, job: string, count = 1): Promise<string[]> {
    for (let i = 0; i < 300; i++) {
        const list = (await api.call("GET", `/api/v1/namespaces/${ns}/pods?labelSelector=job-name%3D${job}`)).body as { items: Pod[] };
        const bound = list.items.filter((p) => p.spec.nodeName !== undefined).map((p) => p.metadata.name);
        if (bound.length >= count) return bound;
        await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`job ${ns}/${job}: no ${count} pods bound`);
}

/** The kubelet's report of the container (test/harness/node-standin.ts); an exit also ends its log. */
async function containerState(ns: string, pod: string, report: ContainerReport): Promise<void> {
    const r = await api.call("GET", `/api/v1/namespaces/${ns}/pods/${pod}`);
    await reportContainers(api.call, r.body as Parameters<typeof reportContainers>[1], report);
    if ("exitCode" in report) api.node?.endLog(ns, pod);
}

describe("kubeconfig access", () => {
    it("reads k3s's inline client certificate, CA and server", () => {
        const a = kubeAccess(api.kubeconfig);
        const doc = parse(api.kubeconfig) as {
            clusters: { cluster: Record<string, string> }[];
            users: { user: Record<string, string> }[];
        };
        assert.equal(a.server, api.url);
        assert.equal(a.ca, Buffer.from(doc.clusters[0].cluster["certificate-authority-data"], "base64").toString());
        assert.equal(a.cert, Buffer.from(doc.users[0].user["client-certificate-data"], "base64").toString());
    });
    it("refuses exec users and file references with a clear message", () => {
        assert.throws(
            () => kubeAccess(kubeconfigWith({ exec: { command: "aws" } })),
            /authenticates with exec or auth-provider, which build results cannot use/,
        );
        assert.throws(
            () => kubeAccess(kubeconfigWith({ "client-certificate": "/home/me/.kube/cert.pem" })),
            /refers to a file \(client-certificate\); embed the data instead/,
        );
    });
});

describe("awaitBuild", () => {
    it("streams the log while the Job runs, then returns the digest from the metadata in the termination message", async () => {
        await createJob("buildkit", "build-hello-1");
        const [pod] = await podsOf("buildkit", "build-hello-1");
        await containerState("buildkit", pod, { running: true });
        api.node?.appendLog("buildkit", pod, "#1 [internal] load build definition\n#2 DONE 0.1s\n");
        const lines: string[] = [];
        const finished = (async () => {
            // More output while the wait follows the log, then the container's end.
            await new Promise((res) => setTimeout(res, 1500));
            api.node?.appendLog("buildkit", pod, "#3 pushing layers\n");
            await new Promise((res) => setTimeout(res, 500));
            await containerState("buildkit", pod, { exitCode: 0, message: METADATA });
        })();
        const r = await awaitBuild(kubeAccess(api.kubeconfig), "buildkit", "build-hello-1", {
            timeoutMs: 30_000,
            pollMs: 100,
            log: (l) => lines.push(l),
        });
        await finished;
        assert.deepEqual(r, { digest: DIGEST, ref: `registry.dev:5000/hello@${DIGEST}`, names: ["registry.dev:5000/hello:1"] });
        assert.ok(lines.includes("[build-hello-1] #1 [internal] load build definition"), lines.join("\n"));
        assert.ok(lines.includes("[build-hello-1] #3 pushing layers"), lines.join("\n"));
    });
    it("a failed build fails with the Job's reason and the log tail Kubernetes put in the newest pod's termination message", async () => {
        const tail =
            "#5 [2/2] RUN make\n#5 0.2 make: *** No rule to make target 'all'.  Stop.\n#5 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2";
        // One retry: the Job controller makes a second pod after the first fails (its back-off: about 10 s).
        await createJob("buildkit", "build-bad-1", 1);
        const [first] = await podsOf("buildkit", "build-bad-1");
        await containerState("buildkit", first, { exitCode: 1, message: "old attempt" });
        const second = (await podsOf("buildkit", "build-bad-1", 2)).find((p) => p !== first) ?? "";
        await containerState("buildkit", second, { exitCode: 1, message: tail });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig), "buildkit", "build-bad-1", { timeoutMs: 30_000, pollMs: 100 }),
            (e: Error) => {
                assert.equal(
                    e.message,
                    `build Job buildkit/build-bad-1 failed (BackoffLimitExceeded: Job has reached the specified backoff limit).\nLast lines of the build log (pod ${second}):\n${tail}`,
                );
                return true;
            },
        );
    });
    it("without a termination message, the tail comes from the log API (the kubelet's, through the server)", async () => {
        await createJob("buildkit", "build-oom-1");
        const [pod] = await podsOf("buildkit", "build-oom-1");
        await containerState("buildkit", pod, { running: true });
        api.node?.appendLog("buildkit", pod, Array.from({ length: 80 }, (_, i) => `line ${i}\n`).join(""));
        await containerState("buildkit", pod, { exitCode: 137 });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig), "buildkit", "build-oom-1", { timeoutMs: 30_000, pollMs: 100 }),
            (e: Error) => {
                assert.match(e.message, /failed \(BackoffLimitExceeded/);
                assert.ok(e.message.endsWith("line 79") && e.message.includes("line 30\n") && !e.message.includes("line 29\n"), e.message);
                return true;
            },
        );
    });
    it("a completed Job without metadata is an error, not an empty digest", async () => {
        await createJob("buildkit", "build-nometa-1");
        const [pod] = await podsOf("buildkit", "build-nometa-1");
        await containerState("buildkit", pod, { exitCode: 0 });
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig), "buildkit", "build-nometa-1", { timeoutMs: 30_000, pollMs: 100 }),
            /completed but left no metadata/,
        );
    });
    it("a Job that outlives the timeout fails the wait with the log so far", async () => {
        await createJob("buildkit", "build-slow-1");
        const [pod] = await podsOf("buildkit", "build-slow-1");
        await containerState("buildkit", pod, { running: true });
        api.node?.appendLog("buildkit", pod, "#1 still going\n");
        await assert.rejects(
            awaitBuild(kubeAccess(api.kubeconfig), "buildkit", "build-slow-1", { timeoutMs: 300, pollMs: 50 }),
            /did not finish within 0s.\nLast lines of the build log:\n#1 still going/,
        );
    });
    it("a client certificate from another CA is refused by the API server (401, as the real one answers)", async () => {
        const dir = mkdtempSync(join(tmpdir(), "k3sbk-stranger-"));
        try {
            execFileSync(
                "bash",
                [
                    "-euc",
                    `cd ${dir}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=stranger-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem -out req.csr -subj /O=system:masters/CN=stranger 2>/dev/null
openssl x509 -req -in req.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cert.pem -days 1 2>/dev/null`,
                ],
                { stdio: "pipe" },
            );
            const stranger = kubeconfigWith({
                "client-certificate-data": readFileSync(join(dir, "cert.pem")).toString("base64"),
                "client-key-data": readFileSync(join(dir, "key.pem")).toString("base64"),
            });
            await assert.rejects(
                awaitBuild(kubeAccess(stranger), "buildkit", "build-hello-1", { timeoutMs: 5000, pollMs: 20 }),
                /^KubeError: GET \/apis\/batch\/v1\/namespaces\/buildkit\/jobs\/build-hello-1: 401 Unauthorized$/,
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("BuildResult provider", () => {
    it("create waits and outputs the digest; read sees a deleted Job; diff then rebuilds", async () => {
        await createJob("ci", "build-app-2");
        const [pod] = await podsOf("ci", "build-app-2");
        await containerState("ci", pod, { exitCode: 0, message: METADATA });
        const inputs = {
            kubeconfig: api.kubeconfig,
            namespace: "ci",
            jobName: "build-app-2",
            tags: ["r/app:2"],
            timeoutSeconds: 60,
            providerVersion: "1",
        };
        const created = await buildResultProvider.create?.(inputs);
        assert.equal(created?.id, "ci/build-app-2");
        const outs = created?.outs as BuildResultOutputs;
        assert.equal(outs.digest, DIGEST);
        assert.equal(outs.present, true);
        assert.deepEqual((await buildResultProvider.read?.("ci/build-app-2", outs))?.props, outs);
        assert.deepEqual(await buildResultProvider.diff?.("ci/build-app-2", outs, inputs), {
            changes: false,
            replaces: [],
            deleteBeforeReplace: false,
        });
        const deleted = await api.call("DELETE", "/apis/batch/v1/namespaces/ci/jobs/build-app-2", { propagationPolicy: "Background" });
        assert.equal(deleted.status, 200);
        const refreshed = (await buildResultProvider.read?.("ci/build-app-2", outs))?.props as BuildResultOutputs;
        assert.equal(refreshed.present, false);
        assert.deepEqual(await buildResultProvider.diff?.("ci/build-app-2", refreshed, inputs), {
            changes: true,
            replaces: ["jobName"],
            deleteBeforeReplace: false,
        });
        assert.deepEqual((await buildResultProvider.diff?.("ci/build-app-2", outs, { ...inputs, jobName: "build-app-3" }))?.replaces, [
            "jobName",
        ]);
    });
});
