/**
 * Builds in the program under mocks: the children of an in-cluster build and a host build, the
 * content-addressed Job, the digest travelling from the build result into a Deployment, secrets kept
 * secret, and no change (no new build) when nothing changed.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { jobName } from "../../components/builds/job-spec";
import { readArgvParams } from "../../components/render/shell";
import { parseConfig, type ResolvedConfig } from "../../components/config";
import { diffRuns, isSecretValue, type RecordedWithDeps, resolve, runPlatform } from "../../tools/evaluate";

const HEREDOC = "FROM alpine\nRUN <<EOT\necho hi > /hi\nEOT\n";
const build = {
    name: "hello",
    context: { files: { Dockerfile: HEREDOC } },
    tags: ["registry.dev:5000/hello:1"],
    secrets: ["npm"],
};
const values = {
    hosts: [{ name: "local", connection: "local" }],
    registries: { "registry.dev:5000": { http: true } },
    builds: [build],
    buildSecrets: { npm: "npm-s3cret-token" },
    deployments: [{ name: "hello", build: "hello", replicas: 2 }],
};
const SECRET_KEYS = ["buildSecrets"];

const byName = (rs: RecordedWithDeps[], name: string) => {
    const r = rs.find((x) => x.name === name);
    assert.ok(r, `no resource ${name}; have ${rs.map((x) => x.name).join(", ")}`);
    return r;
};
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? (v as { value: unknown }).value : v);
const resolved = (v: Record<string, unknown>) => {
    const r = parseConfig(
        { values: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, JSON.stringify(x)])), secretKeys: new Set(SECRET_KEYS) },
        { runningAsRoot: true },
    );
    return r.config as ResolvedConfig;
};

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("in-cluster build (ImageBuild)", () => {
    it("children: context ConfigMap, secrets Secret, the Job named by the definition hash, the build result; all on the cluster provider", async () => {
        const { recorded, platform } = await runPlatform(values, SECRET_KEYS);
        const expectedJob = jobName(resolved(values).builds[0]);
        const children = recorded.filter((r) => r.parent === "hello").map((r) => `${r.type} ${r.name}`);
        assert.deepEqual(children.sort(), [
            "kubernetes:batch/v1:Job hello-job",
            "kubernetes:core/v1:ConfigMap hello-context",
            "kubernetes:core/v1:Secret hello-secrets",
            "pulumi-nodejs:dynamic/k3s-buildkit:BuildResult hello-result",
        ]);
        assert.equal(byName(recorded, "hello").type, "k3s-buildkit:build:ImageBuild");
        const job = byName(recorded, "hello-job");
        const meta = job.inputs.metadata as Record<string, unknown>;
        assert.deepEqual(meta, {
            name: expectedJob,
            namespace: "buildkit",
            labels: {
                "app.kubernetes.io/name": "image-build",
                "app.kubernetes.io/instance": "hello",
                "app.kubernetes.io/managed-by": "k3s-buildkit",
            },
            annotations: { "pulumi.com/skipAwait": "true" },
        });
        assert.deepEqual(job.dependsOn, ["buildkitd", "hello-context", "hello-secrets"]);
        assert.deepEqual(job.ignoreChanges, ["spec"], "a built image is not rebuilt for a spec change the name does not carry");
        for (const n of ["hello-job", "hello-context", "hello-secrets"]) assert.match(byName(recorded, n).provider ?? "", /::cluster::/);
        assert.deepEqual(byName(recorded, "hello-context").inputs.metadata, {
            name: `${expectedJob}-context`,
            namespace: "buildkit",
            labels: meta.labels,
        });
        assert.equal(byName(recorded, "hello-context").inputs.immutable, true);
        assert.equal(platform.builds.hello.jobName, expectedJob);

        const result = byName(recorded, "hello-result");
        assert.deepEqual(result.dependsOn, ["hello-job"]);
        assert.equal(result.inputs.jobName, expectedJob);
        assert.equal(result.inputs.namespace, "buildkit");
        assert.ok(isSecretValue(result.inputs.kubeconfig), "the kubeconfig reaches the build result as a secret");
    });

    it("the digest travels from the build result into the Deployment's image; unknown in a preview", async () => {
        const { recorded, platform } = await runPlatform(values, SECRET_KEYS);
        const ref = (await resolve(platform.builds.hello.ref)).value;
        const digest = (await resolve(platform.builds.hello.digest)).value;
        assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/);
        assert.equal(ref, `registry.dev:5000/hello@${digest}`);
        const dep = byName(recorded, "deployment-default-hello");
        assert.equal(dep.type, "kubernetes:apps/v1:Deployment");
        const spec = dep.inputs.spec as {
            replicas: number;
            template: { spec: { containers: { image: string; imagePullPolicy: string }[]; nodeSelector?: unknown } };
        };
        assert.equal(spec.replicas, 2);
        assert.equal(spec.template.spec.containers[0].image, ref);
        assert.equal(spec.template.spec.containers[0].imagePullPolicy, "IfNotPresent");
        assert.equal(spec.template.spec.nodeSelector, undefined);

        const preview = await runPlatform(values, SECRET_KEYS, true);
        assert.equal(await (preview.platform.builds.hello.ref as unknown as { isKnown: Promise<boolean> }).isKnown, false);
        // Only the image is unknown: a spec unknown as a whole makes the provider preview a replacement.
        const previewSpec = byName(preview.recorded, "deployment-default-hello").inputs.spec;
        assert.equal(
            typeof previewSpec === "object" ? (previewSpec as { replicas?: number }).replicas : previewSpec,
            2,
            "the Deployment's spec is known in a preview, but for its image",
        );
        assert.equal(
            byName(preview.recorded, "hello-job").inputs.metadata !== undefined,
            true,
            "the Job is known in a preview: reviewers see the build",
        );
    });

    it("build secrets are only in the build's Secret, as a secret; never in the Job or anywhere else", async () => {
        const { recorded } = await runPlatform(values, SECRET_KEYS);
        const secret = byName(recorded, "hello-secrets");
        assert.ok(isSecretValue(secret.inputs.stringData));
        assert.deepEqual(unwrap(secret.inputs.stringData), { npm: "npm-s3cret-token" });
        for (const r of recorded.filter((x) => x.name !== "hello-secrets")) {
            assert.ok(!JSON.stringify(r.inputs).includes("npm-s3cret-token"), `${r.name} carries the build secret`);
        }
    });

    it("a re-run with nothing changed changes no input (no new Job, no build); a changed Dockerfile makes a new Job and rolls the Deployment", async () => {
        const a = await runPlatform(values, SECRET_KEYS);
        const b = await runPlatform(values, SECRET_KEYS);
        assert.deepEqual(diffRuns(a.recorded, b.recorded), { changed: [], added: [], removed: [] });
        const changed = { ...values, builds: [{ ...build, context: { files: { Dockerfile: `${HEREDOC}RUN true\n` } } }] };
        const c = await runPlatform(changed, SECRET_KEYS);
        assert.deepEqual(diffRuns(a.recorded, c.recorded), {
            changed: ["deployment-default-hello", "hello-context", "hello-job", "hello-result", "hello-secrets"],
            added: [],
            removed: [],
        });
        assert.notEqual(c.platform.builds.hello.jobName, a.platform.builds.hello.jobName);
    });

    it("two replicas: builds are spread over buildkitd-0 and buildkitd-1 by their hash", async () => {
        const many = {
            ...values,
            cluster: { replicas: 2 },
            deployments: [],
            builds: Array.from({ length: 12 }, (_, i) => ({ ...build, name: `b${i}`, secrets: [] })),
        };
        const { recorded } = await runPlatform(many, SECRET_KEYS);
        const addrs = new Set(
            recorded
                .filter((r) => r.type === "kubernetes:batch/v1:Job")
                .map((r) => {
                    const cmd = (r.inputs.spec as { template: { spec: { containers: { command: string[] }[] } } }).template.spec
                        .containers[0].command;
                    return cmd[cmd.indexOf("--addr") + 1];
                }),
        );
        assert.deepEqual([...addrs].sort(), [
            "tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234",
            "tcp://buildkitd-1.buildkitd-headless.buildkit.svc:1234",
        ]);
    });
});

describe("host build (HostImageBuild)", () => {
    const ctx = () => {
        const dir = mkdtempSync(join(tmpdir(), "devcontainer-"));
        dirs.push(dir);
        mkdirSync(join(dir, "etc"));
        writeFileSync(join(dir, "Dockerfile"), "FROM debian\nCOPY etc /etc/dev\n");
        writeFileSync(join(dir, "etc/motd"), "hello\n");
        writeFileSync(join(dir, "build.log"), "noise\n");
        writeFileSync(join(dir, ".dockerignore"), "*.log\n");
        return dir;
    };
    const hostValues = (dir: string) => ({
        hosts: [{ name: "local", connection: "local" }],
        hostBuilds: [{ name: "devcontainer", context: { dir }, tags: ["devcontainer:dev"] }],
        deployments: [{ name: "devcontainer", build: "devcontainer" }],
    });

    it("the host build runs after BuildKit on its host, carries the context hash, and its pods stay on that node without pulling", async () => {
        const dir = ctx();
        const { recorded, platform } = await runPlatform(hostValues(dir));
        assert.equal(byName(recorded, "devcontainer").type, "k3s-buildkit:build:HostImageBuild");
        const hb = byName(recorded, "devcontainer-build");
        assert.equal(hb.type, "pulumi-nodejs:dynamic/k3s-buildkit:HostBuild");
        assert.deepEqual(hb.dependsOn, ["local"]);
        assert.equal(hb.inputs.contextHash, platform.builds.devcontainer.contextHash);
        assert.deepEqual(hb.inputs.images, ["docker.io/library/devcontainer:dev"]);
        const script = String(unwrap(hb.inputs.script));
        assert.deepEqual(readArgvParams(script), [
            "--addr",
            "unix:///run/buildkit/buildkitd.sock",
            "build",
            "--progress",
            "plain",
            "--frontend",
            "dockerfile.v0",
            "--local",
            "context=/var/lib/k3s-buildkit/host-builds/devcontainer/context",
            "--local",
            "dockerfile=/var/lib/k3s-buildkit/host-builds/devcontainer/context",
            "--output",
            "type=image,name=docker.io/library/devcontainer:dev,push=false,unpack=true",
            "--metadata-file",
            "/var/lib/k3s-buildkit/host-builds/devcontainer/metadata.json",
        ]);
        const ref = (await resolve(platform.builds.devcontainer.ref)).value;
        assert.match(ref ?? "", /^docker\.io\/library\/devcontainer@sha256:[0-9a-f]{64}$/);
        const spec = byName(recorded, "deployment-default-devcontainer").inputs.spec as {
            template: { spec: { containers: { image: string; imagePullPolicy: string }[]; nodeSelector: unknown } };
        };
        assert.equal(spec.template.spec.containers[0].image, ref);
        assert.equal(spec.template.spec.containers[0].imagePullPolicy, "Never");
        assert.deepEqual(spec.template.spec.nodeSelector, { "kubernetes.io/hostname": "local" });
    });

    it("an ignored file's change leaves the build alone; a real change rebuilds and rolls out", async () => {
        const dir = ctx();
        const a = await runPlatform(hostValues(dir));
        writeFileSync(join(dir, "build.log"), "more noise\n");
        const b = await runPlatform(hostValues(dir));
        assert.deepEqual(diffRuns(a.recorded, b.recorded).changed, []);
        writeFileSync(join(dir, "etc/motd"), "changed\n");
        const c = await runPlatform(hostValues(dir));
        assert.deepEqual(diffRuns(a.recorded, c.recorded).changed, ["deployment-default-devcontainer", "devcontainer-build"]);
    });
});
