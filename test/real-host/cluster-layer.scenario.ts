/**
 * The cluster layer under the real engine and the real Kubernetes provider (npm run test:host): the CLI and
 * pulumi-resource-kubernetes built by scripts/engine.sh apply the program to a REAL kube-apiserver with etcd
 * and kube-controller-manager (test/harness/kube-apiserver.ts, built from their Go modules), a bring-your-own
 * cluster stack (the secret kubeconfig as k3s writes it). No kubelet runs here: test/harness/node-standin.ts
 * binds pods and reports them running as the scheduler and the kubelet of one node would; everything else —
 * Pod Security admission, defaulting, the StatefulSet's pods and status, the Services' Endpoints — is the
 * real server and the real controllers.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startKubeApiServer, type KubeApiServer } from "../harness/kube-apiserver";
import { reportContainers } from "../harness/node-standin";
import { PulumiCli } from "../harness/pulumi";
import { readStackConfig, SECRET } from "../../scripts/render";
import { join } from "node:path";

let api: KubeApiServer;
let cli: PulumiCli;
let ha: PulumiCli | undefined;
let config: Record<string, unknown>;
const SECRETS = ["kubeconfig"];
let stopJobs = () => Promise.resolve();
let created: string[] = [];

/** What BuildKit's metadata file holds after a push (`buildctl --metadata-file`), as the build Job copies it. */
const DIGEST = `sha256:${"5e".repeat(32)}`;
/** What BuildKit's metadata file holds after a push (`buildctl --metadata-file`), for the image the Job's `--output` names. */
function buildMetadata(podSpec: unknown): string {
    const name = /(?:^|[\s,"'])name=([^,"'\s\\]+)/.exec(JSON.stringify(podSpec))?.[1];
    assert.ok(name !== undefined, `no image name in the build pod's command: ${JSON.stringify(podSpec).slice(0, 400)}`);
    return JSON.stringify({ "containerimage.digest": DIGEST, "image.name": name });
}
/** What the cache report's script prints for one replica (test/cluster/cache-report.test.ts runs the script itself). */
const cacheReport = JSON.stringify({ "buildkitd-0": { available: true, totalBytes: 3099559, reclaimableBytes: 1048576, records: 5 } });

/**
 * The kubelet's part for the Jobs' pods (the stand-in node leaves them pending): each container ran to
 * exit 0 and wrote `message` to its termination-log, which the kubelet puts in its terminated state.
 */
function completeJobPods(messageFor: (jobName: string, podSpec: unknown) => string): () => Promise<void> {
    let running = true;
    const loop = (async () => {
        while (running) {
            const list = await api.call("GET", "/api/v1/namespaces/buildkit/pods").catch(() => undefined);
            type Pod = {
                metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string };
                spec: { nodeName?: string; containers: { name: string; image: string }[] };
                status: { phase?: string };
            };
            for (const pod of ((list?.body ?? {}) as { items?: Pod[] }).items ?? []) {
                const job = pod.metadata.labels?.["job-name"];
                if (
                    job === undefined ||
                    pod.spec.nodeName === undefined ||
                    pod.status.phase !== "Pending" ||
                    pod.metadata.deletionTimestamp !== undefined
                )
                    continue;
                await reportContainers(api.call, pod, { exitCode: 0, message: messageFor(job, pod.spec) });
            }
            await new Promise((res) => setTimeout(res, 300));
        }
    })();
    return async () => {
        running = false;
        await loop;
    };
}

before(async () => {
    api = await startKubeApiServer({ controllers: true });
    cli = new PulumiCli();
    config = {
        kubeconfig: api.kubeconfig,
        // A report every minute: the real CronJob controller starts one while the test runs.
        cluster: { cacheReport: { schedule: "* * * * *" } },
        builds: [
            { name: "tools", context: { files: { Dockerfile: "FROM scratch\nCOPY . /\n" } }, tags: ["registry.test/platform/tools:1"] },
        ],
    };
    stopJobs = completeJobPods((job, spec) => (job.startsWith("buildkitd-cache-report-") ? cacheReport : buildMetadata(spec)));
});
after(async () => {
    await stopJobs();
    cli?.close();
    ha?.close();
    await api?.stop();
});

const get = async <T>(path: string): Promise<T> => {
    const r = await api.call("GET", path);
    assert.equal(r.status, 200, `GET ${path}: ${JSON.stringify(r.body)}`);
    return r.body as T;
};

describe("the cluster layer against a real API server", () => {
    it("pulumi up applies it: the daemon's pods are admitted, become ready replicas and back its Services", async () => {
        console.log(`# kube-apiserver /version: ${api.version}`);
        const preview = await cli.preview(config, SECRETS);
        assert.equal(preview.status, 0, preview.log.slice(-3000));
        const up = await cli.up(config, SECRETS);
        assert.deepEqual(up.failures, [], up.log.slice(-4000));
        console.log(`# up: ${up.executed.length} created: ${up.executed.join(", ")}`);
        assert.equal(up.executed.length, preview.ops.create, "up created what the preview said it would");
        created = up.executed;
        // The build Job ran (its pod completed by the kubelet's stand-in); its digest is read from the termination message.
        const tools = (up.outputs.builds as Record<string, { ref: string; digest: string; jobName: string }>).tools;
        assert.equal(tools.ref, `registry.test/platform/tools@${DIGEST}`);
        const job = await get<{ status: { succeeded?: number; conditions?: { type: string; status: string }[] } }>(
            `/apis/batch/v1/namespaces/buildkit/jobs/${tools.jobName}`,
        );
        assert.equal(job.status.succeeded, 1);
        assert.ok(job.status.conditions?.some((c) => c.type === "Complete" && c.status === "True"));
        console.log(`# build: Job ${tools.jobName} Complete (the Job controller's condition), ${tools.ref}`);

        const ns = await get<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/buildkit");
        const sts = await get<{
            spec: { replicas: number };
            status: { readyReplicas?: number; currentRevision?: string; updateRevision?: string };
        }>("/apis/apps/v1/namespaces/buildkit/statefulsets/buildkitd");
        assert.equal(sts.status.readyReplicas, sts.spec.replicas);
        assert.equal(sts.status.currentRevision, sts.status.updateRevision);
        const pods = await get<{ items: { metadata: { name: string }; status: { podIP?: string } }[] }>(
            "/api/v1/namespaces/buildkit/pods?labelSelector=app.kubernetes.io%2Fname%3Dbuildkitd",
        );
        const ep = await get<{ subsets?: { addresses?: { ip: string; targetRef?: { name: string } }[] }[] }>(
            "/api/v1/namespaces/buildkit/endpoints/buildkitd",
        );
        assert.deepEqual(
            (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.targetRef?.name)).sort(),
            pods.items.map((p) => p.metadata.name).sort(),
            "the Service's Endpoints are the daemon's ready pods",
        );
        console.log(
            `# namespace labels ${JSON.stringify(ns.metadata.labels)}; pods ${pods.items.map((p) => `${p.metadata.name}=${p.status.podIP}`).join(" ")}`,
        );
    });

    it("a second preview and up change nothing", async () => {
        const preview = await cli.preview(config, SECRETS, true);
        assert.equal(preview.status, 0, preview.log.slice(-3000));
        const up = await cli.up(config, SECRETS);
        assert.deepEqual(up.failures, []);
        assert.deepEqual(up.executed, []);
        console.log(`# no-change: preview ${JSON.stringify(preview.ops)}; up ran ${up.executed.length} steps`);
    });

    it("the CronJob controller runs the cache report; a refresh reads it into the state, the next up into the outputs", async () => {
        let report: { metadata: { name: string } } | undefined;
        for (let i = 0; i < 180 && report === undefined; i++) {
            const jobs = await get<{ items: { metadata: { name: string }; status: { succeeded?: number } }[] }>(
                "/apis/batch/v1/namespaces/buildkit/jobs",
            );
            report = jobs.items.find((j) => j.metadata.name.startsWith("buildkitd-cache-report-") && j.status.succeeded === 1);
            if (report === undefined) await new Promise((res) => setTimeout(res, 1000));
        }
        assert.ok(report !== undefined, "no cache report Job completed within 3 minutes of a `* * * * *` schedule");
        // A report is information, not drift: the refresh shows the resource unchanged (its inputs are) and
        // stores what it read in the state; the next up, changing nothing, carries it to the stack outputs.
        const changed = await cli.refresh();
        assert.deepEqual(changed, []);
        const state = (await cli.resourceOutputs()).get("buildkitd-cache-usage") as { reportedAt: string; usage: unknown };
        assert.deepEqual(state.usage, JSON.parse(cacheReport));
        const up = await cli.up(config, SECRETS);
        assert.deepEqual(up.executed, []);
        const usage = (up.outputs.buildkitDaemon as { cacheUsage: { reportedAt: string; daemons: Record<string, unknown> } }).cacheUsage;
        assert.deepEqual(usage.daemons, JSON.parse(cacheReport));
        assert.notEqual(usage.reportedAt, "");
        assert.equal(usage.reportedAt, state.reportedAt);
        console.log(
            `# cache report ${report.metadata.name}: read by the refresh into the state, by the next up into cacheUsage ${JSON.stringify(usage)}`,
        );
    });

    it("340 days on, the leaf certificates are due: up re-issues them under the same CA and the StatefulSet rolls its pod", async () => {
        type Sts = {
            spec: { template: { metadata: { annotations: Record<string, string> } } };
            status: { readyReplicas?: number; currentRevision?: string; updateRevision?: string };
        };
        type Pod = { metadata: { name: string; uid: string } };
        const stsPath = "/apis/apps/v1/namespaces/buildkit/statefulsets/buildkitd";
        const before = await get<Sts>(stsPath);
        const podBefore = await get<Pod>("/api/v1/namespaces/buildkit/pods/buildkitd-0");
        const tlsBefore = (await cli.resourceOutputs()).get("buildkitd-tls") as { certs: Record<string, string> };
        // The clock of the engine's Node processes (the program and its dynamic providers) moved on by
        // libfaketime; the Go engine, the Kubernetes provider and the API server keep the real one.
        cli.extraEnv = { LD_PRELOAD: "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", FAKETIME: "+340d", DONT_FAKE_MONOTONIC: "1" };
        const preview = await cli.preview(config, SECRETS);
        const up = await cli.up(config, SECRETS);
        cli.extraEnv = {};
        assert.deepEqual(up.failures, [], up.log.slice(-4000));
        assert.equal(preview.status, 0);
        // What a reviewer sees in the pull request: updates, no replacement.
        assert.deepEqual(preview.replaced, []);
        console.log(
            `# renewal: preview ${JSON.stringify(preview.ops)} (replace: ${preview.replaced.join(", ")}); up ran ${up.executed.join(", ")}; replaced ${up.replaced.join(", ")}`,
        );
        assert.deepEqual(
            [...up.executed].sort(),
            ["buildkitd-client-tls", "buildkitd-server-tls", "buildkitd-statefulset", "buildkitd-tls"].sort(),
        );
        // Rolled, not replaced: a replaced StatefulSet would take every replica down at once.
        assert.ok(!up.replaced.includes("buildkitd-statefulset"), `replaced: ${up.replaced.join(", ")}`);
        const tlsAfter = (await cli.resourceOutputs()).get("buildkitd-tls") as { certs: Record<string, string> };
        assert.equal(tlsAfter.certs.ca, tlsBefore.certs.ca, "the CA is kept");
        assert.notEqual(tlsAfter.certs.server, tlsBefore.certs.server);
        assert.notEqual(tlsAfter.certs.client, tlsBefore.certs.client);
        // The real StatefulSet controller rolled the pod onto the new certificates.
        const after = await get<Sts>(stsPath);
        const podAfter = await get<Pod>("/api/v1/namespaces/buildkit/pods/buildkitd-0");
        assert.notEqual(
            after.spec.template.metadata.annotations["k3s-buildkit/tls-sha256"],
            before.spec.template.metadata.annotations["k3s-buildkit/tls-sha256"],
        );
        assert.notEqual(after.status.updateRevision, before.status.updateRevision);
        assert.equal(after.status.currentRevision, after.status.updateRevision);
        assert.equal(after.status.readyReplicas, 1);
        assert.notEqual(podAfter.metadata.uid, podBefore.metadata.uid, "buildkitd-0 was replaced");
        console.log(
            `# renewal rolled buildkitd: revision ${before.status.updateRevision} -> ${after.status.updateRevision}, pod ${podBefore.metadata.uid} -> ${podAfter.metadata.uid}`,
        );
    });

    it("a namespace that enforces restricted: the preview refuses it, and so does the server's admission", async () => {
        const created = await api.call("POST", "/api/v1/namespaces", {
            metadata: { name: "strict", labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
        });
        assert.equal(created.status, 201);
        // The program's own check, before anything is applied.
        const preview = await cli.preview({ ...config, cluster: { ...(config.cluster as object), namespace: "strict" } }, SECRETS);
        assert.notEqual(preview.status, 0);
        const ours = preview.failures.find((f) => f.message.includes('namespace "strict" already exists'));
        assert.ok(ours !== undefined, preview.log.slice(-3000));
        // The daemon's own error, its message without a stack.
        assert.equal(ours.name, "buildkitd");
        assert.match(
            ours.message,
            /cluster\.namespace: namespace "strict" already exists in this cluster with pod-security\.kubernetes\.io\/enforce=restricted, which refuses the buildkitd pods \(their spec needs "privileged"\)/,
        );
        assert.doesNotMatch(ours.message, /\n\s+at /);
        console.log(`# preview refused (${ours.name}): ${ours.message}`);
        // The server's: the StatefulSet up applied, put into that namespace as it is; the controller's pods are refused.
        const live = await get<{ metadata: Record<string, unknown>; spec: unknown }>(
            "/apis/apps/v1/namespaces/buildkit/statefulsets/buildkitd",
        );
        const moved = await api.call("POST", "/apis/apps/v1/namespaces/strict/statefulsets", {
            apiVersion: "apps/v1",
            kind: "StatefulSet",
            metadata: { name: "buildkitd", labels: live.metadata.labels },
            spec: live.spec,
        });
        assert.equal(moved.status, 201, JSON.stringify(moved.body));
        let refusal: string | undefined;
        for (let i = 0; i < 120 && refusal === undefined; i++) {
            const events = await get<{ items: { reason: string; message: string }[] }>("/api/v1/namespaces/strict/events");
            refusal = events.items.find((e) => e.reason === "FailedCreate")?.message;
            if (refusal === undefined) await new Promise((res) => setTimeout(res, 500));
        }
        assert.ok(refusal !== undefined, "the StatefulSet controller reported no refused pod");
        assert.match(refusal, /violates PodSecurity "restricted:latest": privileged/);
        assert.equal((await get<{ items: unknown[] }>("/api/v1/namespaces/strict/pods")).items.length, 0);
        console.log(`# admission refused: ${refusal}`);
        await api.call("DELETE", "/api/v1/namespaces/strict");
    });

    it("pulumi destroy removes what up applied, and the namespace goes", async () => {
        const deleted = await cli.destroy();
        // Every resource up created, and the two providers (the cluster's, and the default one).
        assert.deepEqual([...deleted].sort(), [...created, "cluster", "default"].sort());
        for (let i = 0; i < 120; i++) {
            if ((await api.call("GET", "/api/v1/namespaces/buildkit")).status === 404) break;
            await new Promise((res) => setTimeout(res, 500));
        }
        assert.equal((await api.call("GET", "/api/v1/namespaces/buildkit")).status, 404);
        console.log(`# destroy: ${deleted.length} deleted (${created.length} resources, 2 providers); the namespace is gone`);
    });
});

describe("the HA example's cluster layer against a real API server", () => {
    it("up applies Pulumi.ha-example.yaml's cluster, registries and builds (rootless, 2 replicas): both pods admitted and ready; a re-run changes nothing; destroy removes it", async () => {
        // The example's stack without its hosts (this cluster is brought along), its secrets given test values.
        const { values } = readStackConfig(join(__dirname, "..", "..", "Pulumi.ha-example.yaml"));
        const testSecrets = (v: unknown): unknown => {
            if (v === SECRET) return "test-secret";
            if (Array.isArray(v)) return v.map(testSecrets);
            if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, testSecrets(x)]));
            return v;
        };
        const keep = ["buildkit", "registries", "registryPasswords", "cluster", "builds", "buildSecrets"];
        const haConfig: Record<string, unknown> = {
            ...Object.fromEntries(keep.filter((k) => k in values).map((k) => [k, testSecrets(values[k])])),
            kubeconfig: api.kubeconfig,
        };
        const secrets = ["kubeconfig", "registryPasswords", "buildSecrets"];
        ha = new PulumiCli(`realhost-ha-${process.pid}`);
        const up = await ha.up(haConfig, secrets);
        assert.deepEqual(up.failures, [], up.log.slice(-4000));
        console.log(`# HA example: up created ${up.executed.length}: ${up.executed.join(", ")}`);
        const sts = await get<{ spec: { replicas: number }; status: { readyReplicas?: number } }>(
            "/apis/apps/v1/namespaces/buildkit/statefulsets/buildkitd",
        );
        assert.equal(sts.spec.replicas, 2);
        assert.equal(sts.status.readyReplicas, 2);
        const ns = await get<{ metadata: { labels: Record<string, string> } }>("/api/v1/namespaces/buildkit");
        const pdb = await get<{ status: { expectedPods?: number } }>("/apis/policy/v1/namespaces/buildkit/poddisruptionbudgets/buildkitd");
        assert.equal(pdb.status.expectedPods, 2, "the PodDisruptionBudget covers both replicas (the disruption controller's count)");
        const builds = up.outputs.builds as Record<string, { ref: string }>;
        assert.equal(builds.api.ref, `registry.example.cn/platform/api@${DIGEST}`);
        assert.equal(builds.tools.ref, `registry.example.cn/platform/tools@${DIGEST}`);
        console.log(
            `# HA example: enforce=${ns.metadata.labels["pod-security.kubernetes.io/enforce"]}, 2 replicas ready, PDB expects ${pdb.status.expectedPods}; builds ${Object.values(
                builds,
            )
                .map((b) => b.ref)
                .join(", ")}`,
        );
        const again = await ha.preview(haConfig, secrets, true);
        assert.equal(again.status, 0, again.log.slice(-3000));
        const deleted = await ha.destroy();
        assert.deepEqual([...deleted].sort(), [...up.executed, "cluster", "default"].sort());
    });
});
