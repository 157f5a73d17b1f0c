/**
 * `npm run render` on the committed stacks (dev and the HA example), with every artifact linted as
 * rendered: scripts by shellcheck, units by systemd-analyze verify, manifests by the Kubernetes OpenAPI
 * schema. Secrets never appear; the HA example cannot rot without this failing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse } from "yaml";
import { renderStack, SECRET, writeArtifacts } from "../../scripts/render";
import { verifyUnits } from "../harness/systemd";

const root = join(__dirname, "..", "..");
const out = mkdtempSync(join(tmpdir(), "k3sbk-render-"));
after(() => rmSync(out, { recursive: true, force: true }));

async function render(stack: string) {
    const files = await renderStack(join(root, `Pulumi.${stack}.yaml`));
    const dir = join(out, stack);
    writeArtifacts(dir, files);
    return { files, dir };
}

function lint(files: Map<string, string>, dir: string): void {
    const scripts = [...files.keys()].filter((f) => f.endsWith(".sh")).map((f) => join(dir, f));
    assert.ok(scripts.length > 0);
    const sc = spawnSync("shellcheck", ["--severity=style", ...scripts], { encoding: "utf8" });
    assert.equal(sc.stdout, "", "shellcheck findings");
    assert.equal(sc.status, 0);
    const units = [...files.keys()].filter((f) => /\/etc\/systemd\/system\/[^/]+\.(service|socket)$/.test(f)).map((f) => join(dir, f));
    assert.ok(units.length > 0);
    const v = verifyUnits(units);
    assert.equal(v.output, "");
}

async function validateManifests(files: Map<string, string>): Promise<number> {
    const v1 = await import("kubernetes-models/v1");
    const apps = await import("kubernetes-models/apps/v1");
    const batch = await import("kubernetes-models/batch/v1");
    const policy = await import("kubernetes-models/policy/v1");
    const models = {
        Namespace: v1.Namespace,
        ConfigMap: v1.ConfigMap,
        Service: v1.Service,
        StatefulSet: apps.StatefulSet,
        Deployment: apps.Deployment,
        Job: batch.Job,
        CronJob: batch.CronJob,
        PodDisruptionBudget: policy.PodDisruptionBudget,
    } as unknown as Record<string, new (o: unknown) => { validate(): void }>;
    let n = 0;
    for (const [path, text] of files) {
        if (!path.startsWith("cluster/")) continue;
        const m = parse(text) as { kind: string };
        if (m.kind === "Secret") {
            assert.equal((m as { stringData?: unknown }).stringData, SECRET, `${path}: secret data shown as ${SECRET}`);
            continue;
        }
        new models[m.kind](m).validate();
        n++;
    }
    return n;
}

describe("npm run render", () => {
    it("dev stack: scripts, files and modes per host, manifests, resource list; all lint clean", async () => {
        const { files, dir } = await render("dev");
        assert.deepEqual([...files.keys()].filter((f) => f.startsWith("hosts/local/steps/")).sort(), [
            "hosts/local/steps/01-local-preflight.sh",
            "hosts/local/steps/02-local-nerdctl-install.delete.sh",
            "hosts/local/steps/02-local-nerdctl-install.sh",
            "hosts/local/steps/03-local-k3s-install.delete.sh",
            "hosts/local/steps/03-local-k3s-install.sh",
            "hosts/local/steps/04-local-buildkit-install.delete.sh",
            "hosts/local/steps/04-local-buildkit-install.sh",
            "hosts/local/steps/05-local-k3s-drain.sh",
            "hosts/local/steps/06-local-k3s.ready.sh",
            "hosts/local/steps/07-local-buildkit.ready.sh",
            "hosts/local/steps/08-local-kubeconfig.sh",
        ]);
        assert.match(
            files.get("hosts/local/files.txt") ?? "",
            /^\/etc\/rancher\/k3s\/config\.yaml 0600 root:root \(secret values masked\)$/m,
        );
        // The file a reviewer most needs: every key readable, only the token masked.
        const config = parse(files.get("hosts/local/files/etc/rancher/k3s/config.yaml") ?? "") as Record<string, unknown>;
        assert.equal(config.token, "[secret]");
        assert.equal(config["data-dir"], "/data/k3s");
        assert.ok(Array.isArray(config.disable));
        assert.match(files.get("hosts/local/files/etc/buildkit/buildkitd.toml") ?? "", /^\[worker\.containerd\]$/m);
        assert.match(
            files.get("resources.txt") ?? "",
            /^pulumi-nodejs:dynamic\/k3s-buildkit:HostStep local-k3s-install parent=local dependsOn=k3s-first-server,local-preflight$/m,
        );
        assert.deepEqual([...files.keys()].filter((f) => f.includes("builds/")).sort(), [
            "builds/devcontainer.sh",
            "builds/hello.sh",
            "builds/hygiene.sh",
            "hosts/local/builds/devcontainer.sh",
            "hosts/local/builds/hello.sh",
        ]);
        assert.match(
            files.get("builds/hello.sh") ?? "",
            /^buildctl --addr unix:\/\/\/run\/buildkit\/buildkitd\.sock build --progress plain --frontend dockerfile\.v0 --local context=\/var\/lib\/k3s-buildkit\/host-builds\/hello\/context --local dockerfile=\/var\/lib\/k3s-buildkit\/host-builds\/hello\/context --output type=image,name=docker\.io\/library\/hello:dev,push=false,unpack=true --metadata-file \/var\/lib\/k3s-buildkit\/host-builds\/hello\/metadata\.json$/m,
        );
        assert.match(files.get("hosts/local/builds/devcontainer.sh") ?? "", /^receive_context <<'K3S_BUILDKIT_CONTEXT'$/m);
        const dep = parse(files.get("cluster/Deployment-devcontainer.yaml") ?? "") as {
            spec: { template: { spec: { containers: { image: string; imagePullPolicy: string }[] } } };
        };
        assert.match(dep.spec.template.spec.containers[0].image, /^docker\.io\/library\/devcontainer@sha256:[0-9a-f]{64}$/);
        assert.equal(dep.spec.template.spec.containers[0].imagePullPolicy, "Never");
        lint(files, dir);
        assert.ok(files.has("cluster/CronJob-buildkitd-cache-report.yaml"), "the cache report's CronJob is rendered");
        assert.equal(await validateManifests(files), 7);
    });

    it("HA example: 3 servers joining the first, 2 agents, China mirrors, rootless daemon; secrets never shown", async () => {
        const { files, dir } = await render("ha-example");
        for (const h of ["server-1", "server-2", "server-3", "agent-1", "agent-2"]) {
            assert.ok(
                [...files.keys()].some((f) => f.startsWith(`hosts/${h}/steps/`)),
                h,
            );
        }
        const install = (h: string) =>
            [...files.entries()].find(([f]) => f.startsWith(`hosts/${h}/steps/`) && f.endsWith(`-${h}-k3s-install.sh`))?.[1] ?? "";
        assert.match(install("server-1"), /^export K3S_SERVER_URL=''$/m);
        assert.match(install("server-2"), /^export K3S_SERVER_URL='https:\/\/10\.20\.0\.11:6443'$/m);
        assert.match(install("agent-2"), /^export K3S_ROLE='agent'$/m);
        assert.match(install("agent-2"), /^export K3S_BINARY_BASE_URL='https:\/\/rancher-mirror\.rancher\.cn\/k3s'$/m);
        const sts = parse(files.get("cluster/StatefulSet-buildkitd.yaml") ?? "") as {
            spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
        };
        assert.equal(sts.spec.replicas, 2);
        assert.equal(sts.spec.template.spec.containers[0].image, "registry.example.cn/moby/buildkit:v0.33.1-rootless");
        for (const [f, text] of files) assert.ok(!text.includes("REPLACE-with-pulumi-config-set-secret"), `${f} shows a secret`);
        assert.match(
            files.get("builds/api.sh") ?? "",
            /--opt 'context=https:\/\/git\.example\.cn\/platform\/api\.git#4f2a9c1e0b7d3a5f6e8d9c0b1a2f3e4d5c6b7a89:services\/api' --opt target=runtime --opt build-arg:GOPROXY=https:\/\/goproxy\.cn,direct --opt platform=linux\/amd64,linux\/arm64 --secret id=GIT_AUTH_TOKEN,src=\/run\/build-secrets\/git --output type=image,name=registry\.example\.cn\/platform\/api:4f2a9c1e0b7d,push=true --export-cache type=registry,ref=registry\.example\.cn\/platform\/api:buildcache,mode=max,ignore-error=true,image-manifest=true,oci-mediatypes=true /,
        );
        const buildSecret = [...files.keys()].find((f) => /^cluster\/Secret-build-api-[0-9a-f]{10}-secrets\.yaml$/.test(f));
        assert.equal(buildSecret !== undefined && files.get(buildSecret)?.includes(SECRET), true);
        lint(files, dir);
        assert.equal(await validateManifests(files), 10); // with the daemon's PodDisruptionBudget (2 replicas) and the cache report's CronJob
    });
});

describe("npm run render: a host build with a build secret", () => {
    it("shows its buildctl line but not the script that carries the secret", async () => {
        const stack = join(out, "Pulumi.secret-build.yaml");
        writeFileSync(
            stack,
            `config:
  k3s-buildkit:hosts: [{ name: local, connection: local }]
  k3s-buildkit:hostBuilds:
    - { name: app, context: { files: { Dockerfile: "FROM scratch" } }, secrets: [npm], tags: ["app:1"] }
  k3s-buildkit:buildSecrets:
    npm:
      secure: REPLACE-with-pulumi-config-set-secret
`,
        );
        const files = await renderStack(stack);
        assert.equal(
            files.get("hosts/local/builds/app.sh"),
            `#!/usr/bin/env bash\n# app-build: fed on stdin to the runner, like the steps\n# This script carries a secret: ${SECRET}\n`,
        );
        assert.match(files.get("builds/app.sh") ?? "", /--secret id=npm,env=K3S_BUILDKIT_SECRET_6e706d /);
        for (const [f, text] of files) assert.ok(!text.includes("REPLACE-with-pulumi-config-set-secret"), `${f} shows a secret`);
    });
});
