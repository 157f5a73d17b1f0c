/**
 * Real BuildKit (built from its module: scripts/buildkit-release.sh) doing what the seeds ask of it, on
 * a booted machine (npm run test:host):
 * - the host daemon the program installs (worker: k3s's containerd, here the machine's real containerd
 *   where the k3s fixture puts it) builds seed 003's forms through `hostBuilds` with the real `pulumi up`:
 *   here-doc RUN and COPY without `# syntax`, build args, a target, a secret, FROM a base image that
 *   exists offline (busybox from Debian, built and pushed to the test registry first); also through the
 *   namespace-copy path (BuildKit's own namespace → k8s.io), checked by containerd's CRI;
 * - GC: the policy the daemon reports is the one rendered; `buildctl du` answers through the socket;
 * - the in-cluster daemon without a kubelet: buildkitd started with exactly the StatefulSet's container
 *   args, env and mounts (buildkitd.toml from the ConfigMap; certificates issued from the program's TLS
 *   plan), privileged and rootless (under rootlesskit, uid 1000), and the build Jobs' exact command
 *   against it over mutual TLS: a git context at a full SHA from a local git daemon, inline here-doc
 *   contexts, pushes to the registry, cache (registry, inline, local) hit after `buildctl prune`, the
 *   digest in the termination-message file equal to the registry's; a client without a certificate is
 *   refused.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { DAEMON_NAME, DAEMON_PORT } from "../../components/builds/daemon";
import { tlsPlan } from "../../components/cluster/specs";
import { cacheUsageScript, parseCacheUsage } from "../../components/host/cache-usage-provider";
import { CACHE_REPORT_NAME, parseCacheReport } from "../../components/cluster/cache-report";
import { shellQuote } from "../../components/render/shell";
import { replicaHost } from "../../components/builds/job-spec";
import { FAKE_SSH_KEY, type RecordedWithDeps, runPlatform, unwrapSecrets } from "../../tools/evaluate";
import { issueMutualTls } from "../../components/cluster/mutual-tls";
import { CriClient } from "../harness/cri";
import { bootMachine, type Machine } from "../harness/machine";
import { containerScript, type ImageLike, type PodSpecLike } from "../harness/pod";
import { PulumiCli } from "../harness/pulumi";
import { buildkitRelease, type Mirror, startMirror, VERSIONS } from "../fixtures/artifacts";
import { type Registry, startRegistry } from "../fixtures/registry";
import { stackFor } from "./common";

let m: Machine;
let mirror: Mirror;
let registry: Registry;
const engine = new PulumiCli();
const ctr = "ctr --address /run/k3s/containerd/containerd.sock";
const BASE = () => `${registry.host}/base/busybox:1`;
const registries = () => ({
    "docker.io": { mirrors: ["mirror-a.example.com"] },
    [registry.host]: { http: true, username: registry.user },
});
const gc = { reservedSpace: "1GB", maxUsedSpace: "6GB", minFreeSpace: "2GB" };
const config = (over: Record<string, unknown> = {}) =>
    stackFor([m], mirror, {
        registries: registries(),
        registryPasswords: { [registry.host]: registry.password },
        buildkit: { downloadBaseUrl: mirror.buildkitBaseUrl, gc },
        ...over,
    });
/** The secret keys of a stack config (set with `pulumi config set --secret`). */
const secrets = (c: Record<string, unknown>) => ["sshPrivateKey", "registryPasswords", "buildSecrets"].filter((k) => k in c);

/** `pulumi up` of the test stack with `over` merged in. */
const up = (over: Record<string, unknown> = {}) => {
    const c = config(over);
    return engine.up(c, secrets(c));
};
/** Writes `content` at `path` inside the machine (its root file system is a directory here). */
const put = (path: string, content: string | Buffer, mode = 0o644) => {
    mkdirSync(dirname(join(m.root, path)), { recursive: true });
    writeFileSync(join(m.root, path), content, { mode });
};
/** Runs a script on the machine; its output and exit code, whatever the code. */
const run = async (script: string) => {
    const out = await m.exec(
        `{ ${script}\n} > /tmp/run.out 2>&1 && echo "exit=0" >> /tmp/run.out || echo "exit=$?" >> /tmp/run.out; cat /tmp/run.out`,
    );
    const code = Number(/exit=(\d+)\n$/.exec(out)?.[1] ?? -1);
    return { code, out: out.replace(/exit=\d+\n$/, "") };
};
/** "#7 CACHED" lines of buildctl's plain progress: the steps taken from the cache. */
const cachedSteps = (progress: string) => progress.split("\n").filter((l) => /^#\d+ CACHED$/.test(l)).length;

before(async () => {
    mirror = await startMirror();
    registry = await startRegistry();
    m = await bootMachine("k3sbk-buildkit");
});
after(async () => {
    await m?.stop();
    await registry?.close();
    await mirror?.close();
    engine.close();
});

describe("real BuildKit: the host daemon", () => {
    it("the install answers as the built release; an offline base image (Debian's static busybox) is built through the host socket and pushed with credentials", async () => {
        const r = await up();
        assert.deepEqual(r.failures, []);
        const version = await m.exec("buildkitd --version");
        console.log(`# buildkitd --version: ${version.trim()}`);
        assert.match(version, /^buildkitd github\.com\/moby\/buildkit v\d+\.\d+\.\d+ ?\n$/);
        put("/srv/base/Dockerfile", 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n');
        await m.exec("cp /bin/busybox /srv/base/busybox");
        put(
            "/srv/base/docker/config.json",
            JSON.stringify({
                auths: { [registry.host]: { auth: Buffer.from(`${registry.user}:${registry.password}`).toString("base64") } },
            }),
            0o600,
        );
        const b = await run(
            `DOCKER_CONFIG=/srv/base/docker buildctl build --progress plain --frontend dockerfile.v0 --local context=/srv/base --local dockerfile=/srv/base ` +
                `--output type=image,name=${BASE()},push=true,registry.insecure=true`,
        );
        assert.equal(b.code, 0, b.out.slice(-3000));
        assert.match(
            (await registry.manifestDigest("base/busybox", "1")) ?? "",
            /^sha256:[0-9a-f]{64}$/,
            "the base image is in the registry",
        );
        await m.exec("rm -rf /srv/base/docker");
    });

    it("seed 003's forms through hostBuilds with the real engine: here-doc RUN and COPY (no # syntax), a build arg, a target, a secret that stays out of the image", async () => {
        const ctx = mkdtempSync(join(tmpdir(), "forms-"));
        const token = "s3cret-build-token-0123456789";
        writeFileSync(
            join(ctx, "Dockerfile"),
            [
                `FROM ${BASE()} AS base`,
                "ARG GREETING",
                "RUN <<EOT",
                "set -e",
                'echo "$GREETING" > /greeting',
                "EOT",
                "COPY <<EOF /etc/app.conf",
                "mode=real",
                "EOF",
                "FROM base AS final",
                "RUN --mount=type=secret,id=token wc -c < /run/secrets/token > /token-length",
                "FROM base AS broken",
                "RUN false",
                "",
            ].join("\n"),
        );
        const cri = new CriClient(m.hostPath("/run/k3s/containerd/containerd.sock"));
        try {
            const r = await up({
                buildSecrets: { token },
                hostBuilds: [
                    {
                        name: "forms",
                        context: { dir: ctx },
                        target: "final",
                        buildArgs: { GREETING: `it's "real" $HOME` },
                        secrets: ["token"],
                        tags: ["forms:dev"],
                    },
                ],
            });
            assert.deepEqual(r.failures, []);
            const built = (r.outputs as { builds: Record<string, { digest: string; ref: string }> }).builds.forms;
            assert.ok((await cri.imageStatus(built.ref)) !== undefined, `CRI resolves ${built.ref}`);
            const files = await m.exec(
                `mkdir -p /mnt/forms; ${ctr} -n k8s.io images mount docker.io/library/forms:dev /mnt/forms >/dev/null
cat /mnt/forms/greeting /mnt/forms/etc/app.conf /mnt/forms/token-length; { ls -A /mnt/forms/run/secrets 2>/dev/null || true; } | wc -l
{ grep -rl ${token} /mnt/forms 2>/dev/null || true; } | wc -l; ${ctr} -n k8s.io images unmount /mnt/forms >/dev/null`,
            );
            console.log(`# host build forms: ${JSON.stringify(files)}`);
            // The build arg verbatim (quotes and $ never reach a shell), the here-doc COPY, the secret's length only.
            assert.equal(files, `it's "real" $HOME\nmode=real\n${token.length}\n0\n0\n`);
        } finally {
            cri.close();
            rmSync(ctx, { recursive: true, force: true });
        }
    });

    it("the namespace-copy path for real: BuildKit builds in its own namespace and the image lands in k8s.io by tag and by repo@digest", async () => {
        const ctx = mkdtempSync(join(tmpdir(), "copied-"));
        writeFileSync(join(ctx, "Dockerfile"), `FROM ${BASE()}\nRUN echo copied > /origin\n`);
        const cri = new CriClient(m.hostPath("/run/k3s/containerd/containerd.sock"));
        try {
            const r = await up({
                buildkit: { downloadBaseUrl: mirror.buildkitBaseUrl, gc, containerdNamespace: "buildkit" },
                hostBuilds: [{ name: "copied", context: { dir: ctx }, tags: ["copied:dev"] }],
            });
            assert.deepEqual(r.failures, []);
            assert.match(await m.exec("cat /etc/buildkit/buildkitd.toml"), /namespace = "buildkit"/);
            const built = (r.outputs as { builds: Record<string, { digest: string; ref: string }> }).builds.copied;
            assert.equal(
                await m.exec(`${ctr} -n buildkit images ls -q | grep -c '^docker.io/library/copied:dev$'`),
                "1\n",
                "built in BuildKit's namespace",
            );
            const status = await cri.imageStatus(built.ref);
            assert.ok(status !== undefined, `CRI resolves ${built.ref} after the copy`);
            assert.ok(status.repoTags.includes("docker.io/library/copied:dev"), status.repoTags.join(" "));
            assert.equal(
                await m.exec(
                    `mkdir -p /mnt/c; ${ctr} -n k8s.io images mount ${built.ref} /mnt/c >/dev/null; cat /mnt/c/origin; ${ctr} -n k8s.io images unmount /mnt/c >/dev/null`,
                ),
                "copied\n",
                "the copy is unpacked for the kubelet",
            );
        } finally {
            cri.close();
            rmSync(ctx, { recursive: true, force: true });
        }
    });

    it("GC: the policy the daemon reports is the rendered one; buildctl du answers through the socket", async () => {
        const toml = parseToml(await m.exec("cat /etc/buildkit/buildkitd.toml")) as { worker: { containerd: Record<string, unknown> } };
        assert.deepEqual(
            {
                reservedSpace: toml.worker.containerd.reservedSpace,
                maxUsedSpace: toml.worker.containerd.maxUsedSpace,
                minFreeSpace: toml.worker.containerd.minFreeSpace,
            },
            gc,
        );
        const workers = await m.exec("buildctl debug workers --verbose");
        console.log(`# buildctl debug workers --verbose (GC part):\n${workers.slice(workers.indexOf("GC Policy"))}`);
        // Every rule after the first (BuildKit's own for local contexts, cache mounts and git checkouts)
        // carries the configured limits. BuildKit reads "1GB" as 1 GiB (1024³ bytes) and prints bytes in
        // decimal units ("1.073741824GB").
        const rules = workers
            .slice(workers.indexOf("GC Policy"))
            .split(/GC Policy rule#\d+:\n/)
            .slice(1);
        assert.ok(rules.length >= 2, workers);
        const gib = (s: string) => Number(/^(\d+)GB$/.exec(s)?.[1]) * 1024 ** 3;
        const field = (rule: string, name: string) => {
            const v = new RegExp(`${name}:\\s*([0-9.]+)([KMGT]?B)`).exec(rule);
            assert.ok(v, `no ${name} in ${rule}`);
            return Math.round(Number(v[1]) * { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[v[2] as "B"]);
        };
        for (const rule of rules.slice(1)) {
            assert.equal(field(rule, "Reserved space"), gib(gc.reservedSpace));
            assert.equal(field(rule, "Maximum used space"), gib(gc.maxUsedSpace));
            assert.equal(field(rule, "Minimum free space"), gib(gc.minFreeSpace));
        }
        assert.match(rules[rules.length - 1], /All:\s+true/, "the last rule covers every record");
        const du = await m.exec("buildctl du");
        assert.match(du, /^ID\s+RECLAIMABLE\s+SIZE\s+LAST ACCESSED/m);
        assert.match(du, /^Total:\s+\S+/m);
        // The cache-usage output's reading, through the same socket, sums what buildctl du's summary sums.
        const usage = parseCacheUsage(
            await m.exec(`bash -s <<'EOF'\nset -euo pipefail\n${cacheUsageScript("unix:///run/buildkit/buildkitd.sock")}EOF`),
        );
        const summary = (label: string) => {
            const v = new RegExp(`^${label}:\\s+([0-9.]+)([kMGT]?B)$`, "m").exec(du);
            assert.ok(v, `no ${label} in ${du}`);
            return Number(v[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 }[v[2] as "B"];
        };
        const near = (bytes: number, shown: number) => Math.abs(bytes - shown) <= Math.max(1, shown * 0.01);
        console.log(
            `# cache usage read by the program: ${JSON.stringify(usage)}; buildctl du: ${du
                .split("\n")
                .filter((l) => /^(Total|Reclaimable):/.test(l))
                .join(", ")}`,
        );
        assert.equal(usage.available, true);
        assert.ok(usage.records > 0, "the builds above left cache records");
        assert.ok(near(usage.totalBytes, summary("Total")), `total ${usage.totalBytes} vs ${summary("Total")}`);
        assert.ok(
            near(usage.reclaimableBytes, summary("Reclaimable")),
            `reclaimable ${usage.reclaimableBytes} vs ${summary("Reclaimable")}`,
        );
    });
});

/** The cluster layer as the program renders it (mocks), for the daemon and the build Jobs. */
interface Rendered {
    statefulSet: { template: { spec: PodSpecLike & { initContainers?: PodSpecLike["containers"] } } };
    configMap: Record<string, string>;
    jobs: Record<string, { template: { spec: PodSpecLike } }>;
    contextFiles: Record<string, Record<string, string>>;
    dockerConfig: string;
    namespace: string;
}
const unwrap = unwrapSecrets;
async function render(mode: "privileged" | "rootless", builds: unknown[]): Promise<Rendered> {
    const { recorded } = await runPlatform(
        {
            sshPrivateKey: FAKE_SSH_KEY,
            hosts: [{ name: "s1", address: "10.0.0.5" }],
            cluster: { mode },
            registries: registries(),
            registryPasswords: { [registry.host]: registry.password },
            builds,
        },
        ["sshPrivateKey", "registryPasswords"],
    );
    const inputs = (r: RecordedWithDeps) => unwrap(r.inputs) as Record<string, unknown>;
    const of = (type: string) => recorded.filter((r) => r.type === type).map(inputs);
    const sts = of("kubernetes:apps/v1:StatefulSet")[0] as { spec: Rendered["statefulSet"]; metadata: { namespace: string } };
    const cms = of("kubernetes:core/v1:ConfigMap") as { metadata: { name: string }; data: Record<string, string> }[];
    const jobs = of("kubernetes:batch/v1:Job") as {
        metadata: { labels: Record<string, string> };
        spec: { template: { spec: PodSpecLike } };
    }[];
    const auth = of("kubernetes:core/v1:Secret").find((s) => (s as { type?: string }).type === "kubernetes.io/dockerconfigjson") as {
        stringData: Record<string, string>;
    };
    // The cache report's CronJob: its Job template, run as the Jobs are.
    const reports = of("kubernetes:batch/v1:CronJob") as {
        metadata: { name: string };
        spec: { jobTemplate: { spec: Rendered["jobs"][string] } };
    }[];
    return {
        statefulSet: sts.spec,
        configMap: cms.find((c) => c.metadata.name === `${DAEMON_NAME}-config`)?.data ?? {},
        jobs: Object.fromEntries([
            ...jobs.map((j) => [j.metadata.labels["app.kubernetes.io/instance"], j.spec] as const),
            ...reports.map((c) => [c.metadata.name, c.spec.jobTemplate.spec] as const),
        ]),
        contextFiles: Object.fromEntries(
            cms.filter((c) => c.metadata.name !== `${DAEMON_NAME}-config`).map((c) => [c.metadata.name, c.data]),
        ),
        dockerConfig: auth.stringData[".dockerconfigjson"],
        namespace: sts.metadata.namespace,
    };
}

/**
 * What the buildkit images contribute (their Dockerfile's ENTRYPOINT, USER and ENV at this version): the
 * privileged image runs hack/buildkitd-entrypoint (a cgroup namespace, then /usr/bin/buildkitd), the
 * rootless one `rootlesskit buildkitd` as uid 1000.
 */
const IMAGES: Record<"privileged" | "rootless", ImageLike> = {
    privileged: {
        entrypoint: ["/usr/bin/buildkitd-entrypoint"],
        env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    },
    rootless: {
        entrypoint: ["rootlesskit", "buildkitd"],
        user: 1000,
        env: {
            PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            HOME: "/home/user",
            USER: "user",
            XDG_RUNTIME_DIR: "/run/user/1000",
            TMPDIR: "/home/user/.local/tmp",
            BUILDKIT_HOST: "unix:///run/user/1000/buildkit/buildkitd.sock",
        },
    },
};

describe("real BuildKit: the in-cluster daemon's command lines, without a kubelet", () => {
    let sha = "";
    let pki: { ca: string; server: { cert: string; key: string }; client: { cert: string; key: string } };
    const ns = "buildkit";
    const clientFlags =
        "--addr tcp://127.0.0.1:1234 --tlscacert /srv/client/ca.pem --tlscert /srv/client/cert.pem --tlskey /srv/client/key.pem";

    before(async () => {
        // A git repository served by git's own daemon, at a full commit SHA.
        put(
            "/srv/src/Dockerfile",
            `FROM ${BASE()}\nRUN <<EOT\nset -e\nmkdir -p /out\necho "built from git" > /out/origin\nEOT\nCOPY app.txt /out/app.txt\n`,
        );
        put("/srv/src/app.txt", "app v1\n");
        sha = (
            await m.exec(`set -e; mkdir -p /srv/git; cd /srv/src; git init -q -b main; git add -A
git -c user.name=t -c user.email=t@example.com commit -q -m init; git clone -q --bare /srv/src /srv/git/app.git
git rev-parse HEAD
systemd-run --unit=git-daemon --quiet git daemon --reuseaddr --base-path=/srv/git --export-all --listen=127.0.0.1 --port=9418 /srv/git`)
        ).trim();
        assert.match(sha, /^[0-9a-f]{40}$/);
        // The certificates the program itself issues for the daemon (BuildkitMutualTls), from its plan.
        const issued = await issueMutualTls(tlsPlan(ns), new Date());
        pki = {
            ca: issued.certs.ca,
            server: { cert: issued.certs.server, key: issued.keys.server },
            client: { cert: issued.certs.client, key: issued.keys.client },
        };
        for (const [f, v] of [
            ["ca.pem", pki.ca],
            ["cert.pem", pki.client.cert],
            ["key.pem", pki.client.key],
        ] as const)
            put(`/srv/client/${f}`, v, 0o600);
        // The pods reach replica 0 by its headless Service name; here it is this machine.
        await m.exec(`echo '127.0.0.1 ${replicaHost(ns, 0)}' >> /etc/hosts`);
        // What the images hold: their entrypoint scripts (from the module, at this version) and the
        // binaries in /usr/bin; the rootless image's user directories and a subordinate id range.
        for (const f of ["buildkitd-entrypoint", "with-cgroupfs-remount"])
            put(`/usr/bin/${f}`, readFileSync(join(dirname(buildkitRelease(VERSIONS.buildkit)), "image/usr/bin", f)), 0o755);
        await m.exec("ln -sf /usr/local/bin/buildkitd /usr/bin/buildkitd && ln -sf /usr/local/bin/buildctl /usr/bin/buildctl");
        // (rootless:) its user's directories and a subordinate id range.
        await m.exec(
            "mkdir -p /run/user/1000 /home/user/.local/tmp /home/user/.local/share/buildkit && chown -R 1000:1000 /run/user/1000 /home/user && " +
                "echo builder:100000:65536 > /etc/subuid && echo builder:100000:65536 > /etc/subgid",
        );
    });

    /** Lays out a pod's volumes on the machine and starts its daemon container as a transient unit. */
    async function startDaemon(mode: "privileged" | "rootless", r: Rendered): Promise<void> {
        const pod = `/srv/pod-${mode}`;
        // One daemon at a time on port 1234 (a failed test may leave the other running).
        await m.exec(
            "systemctl stop pod-privileged pod-rootless 2>/dev/null || true; systemctl reset-failed pod-privileged pod-rootless 2>/dev/null || true",
        );
        const spec = r.statefulSet.template.spec as PodSpecLike & {
            initContainers?: PodSpecLike["containers"];
            volumes: { name: string; hostPath?: { path: string } }[];
        };
        for (const [k, v] of Object.entries(r.configMap)) if (k === "buildkitd.toml") put(`${pod}/config/buildkitd.toml`, v);
        // A Secret volume without defaultMode: 0644, group fsGroup (when the pod sets one), as the kubelet lays it out.
        put(`${pod}/certs/ca.pem`, pki.ca);
        put(`${pod}/certs/cert.pem`, pki.server.cert);
        put(`${pod}/certs/key.pem`, pki.server.key);
        if (spec.securityContext?.fsGroup !== undefined) await m.exec(`chgrp -R ${spec.securityContext.fsGroup} ${pod}/certs`);
        const hostPath = spec.volumes.find((v) => v.name === "state")?.hostPath?.path ?? "";
        assert.notEqual(hostPath, "", "the state volume is a hostPath without a storage class");
        const volumes = { config: `${pod}/config`, certs: `${pod}/certs`, state: hostPath };
        const podName = `${DAEMON_NAME}-0`;
        for (const init of spec.initContainers ?? []) {
            put(
                `${pod}/${init.name}.sh`,
                containerScript({ podName, spec: { ...spec, containers: [init] }, container: init.name, image: IMAGES[mode], volumes }),
            );
            await m.exec(`sh ${pod}/${init.name}.sh`);
        }
        put(`${pod}/buildkitd.sh`, containerScript({ podName, spec, container: DAEMON_NAME, image: IMAGES[mode], volumes }));
        await m.exec(`systemd-run --unit=pod-${mode} --quiet sh ${pod}/buildkitd.sh`);
        const deadline = Date.now() + 60_000;
        for (;;) {
            const w = await run(`buildctl ${clientFlags} debug workers`);
            if (w.code === 0) break;
            if (Date.now() > deadline)
                throw new Error(
                    `the ${mode} daemon did not answer:\n${w.out}\n${await m.exec(`journalctl -u pod-${mode} --no-pager | tail -40`)}`,
                );
            await new Promise((res) => setTimeout(res, 500));
        }
    }

    /** Runs build Job `name` with its exact container; its termination message and progress. */
    async function runJob(r: Rendered, name: string): Promise<{ code: number; progress: string; message: string }> {
        const job = `/srv/job-${name}`;
        const spec = r.jobs[name].template.spec as PodSpecLike & {
            volumes: {
                name: string;
                configMap?: { name: string; items: { key: string; path: string }[] };
                secret?: { secretName: string };
                persistentVolumeClaim?: { claimName: string };
            }[];
        };
        await m.exec(`rm -rf ${job}; mkdir -p ${job}/tmp && chmod 1777 ${job}/tmp`);
        const volumes: Record<string, string> = { tmp: `${job}/tmp` };
        for (const v of spec.volumes) {
            if (v.persistentVolumeClaim !== undefined) {
                // A claim outlives the Job's pods: one directory per claim, group fsGroup.
                volumes[v.name] = `/srv/pvc/${v.persistentVolumeClaim.claimName}`;
                await m.exec(`mkdir -p ${volumes[v.name]} && chgrp 1000 ${volumes[v.name]} && chmod 2775 ${volumes[v.name]}`);
            } else if (v.name === "client-tls") {
                for (const [f, c] of [
                    ["ca.pem", pki.ca],
                    ["cert.pem", pki.client.cert],
                    ["key.pem", pki.client.key],
                ] as const)
                    put(`${job}/client-tls/${f}`, c, 0o440);
            } else if (v.name === "docker-config") {
                put(`${job}/docker-config/config.json`, r.dockerConfig, 0o440);
            } else if (v.configMap !== undefined) {
                const data = r.contextFiles[v.configMap.name];
                for (const it of v.configMap.items) put(`${job}/${v.name}/${it.path}`, data[it.key]);
            } else if (v.name !== "tmp") {
                throw new Error(`volume ${v.name} is not modelled`);
            }
            volumes[v.name] ??= `${job}/${v.name}`;
        }
        // Secret volumes: group 1000 (fsGroup), mode 0440.
        const secretDirs = spec.volumes.filter((v) => v.name === "client-tls" || v.name === "docker-config").map((v) => `${job}/${v.name}`);
        await m.exec(`chgrp -R 1000 ${secretDirs.join(" ")}`);
        put(
            `${job}/job.sh`,
            containerScript({
                podName: `${name}-pod`,
                spec,
                container: "buildctl",
                image: IMAGES.privileged,
                volumes,
                terminationLog: `${job}/termination-log`,
            }),
        );
        const res = await run(`sh ${job}/job.sh`);
        return { code: res.code, progress: res.out, message: await m.exec(`cat ${job}/termination-log`) };
    }

    const digestOf = (message: string) => (JSON.parse(message) as Record<string, string>)["containerimage.digest"];

    it("privileged: buildkitd with the StatefulSet's exact args, env and mounts; a Job builds a git context at a full SHA and pushes; the termination message holds the registry's digest; registry and local cache hit after prune; a client without a certificate is refused", async () => {
        const r = await render("privileged", [
            {
                name: "gitapp",
                context: { git: "git://127.0.0.1/app.git", ref: sha },
                tags: [`${registry.host}/team/gitapp:1`],
                cache: { type: "registry" },
            },
            {
                name: "localcache",
                context: { files: { Dockerfile: `FROM ${BASE()}\nRUN <<EOT\necho local > /cached\nEOT\n` } },
                tags: [`${registry.host}/team/localcache:1`],
                cache: { type: "local", claimName: "build-cache" },
            },
        ]);
        assert.equal(r.namespace, ns);
        const args = (r.statefulSet.template.spec.containers[0].args ?? []).join(" ");
        console.log(`# privileged daemon: buildkitd ${args}`);
        await startDaemon("privileged", r);
        const refused = await run(`buildctl --addr tcp://127.0.0.1:${DAEMON_PORT} --tlscacert /srv/client/ca.pem debug workers`);
        console.log(`# a client without a certificate: exit ${refused.code}: ${refused.out.trim().split("\n").pop()}`);
        assert.notEqual(refused.code, 0, "a client without a certificate is refused");
        // The handshake fails for want of a certificate (the alert, or the connection closed under it).
        assert.match(refused.out, /certificate required|broken pipe|connection reset/i);

        const first = await runJob(r, "gitapp");
        assert.equal(first.code, 0, first.progress.slice(-4000));
        const digest = digestOf(first.message);
        assert.equal(
            await registry.manifestDigest("team/gitapp", "1"),
            digest,
            "the termination message holds the digest the registry serves",
        );
        assert.match(first.progress, new RegExp(`git://127\\.0\\.0\\.1/app\\.git#${sha}`));
        await m.exec(`buildctl ${clientFlags} prune --all >/dev/null`);
        const second = await runJob(r, "gitapp");
        assert.equal(second.code, 0, second.progress.slice(-4000));
        const hits = { first: cachedSteps(first.progress), afterPrune: cachedSteps(second.progress) };
        assert.equal(digestOf(second.message), digest, "the same commit builds the same image");

        const l1 = await runJob(r, "localcache");
        assert.equal(l1.code, 0, l1.progress.slice(-4000));
        await m.exec(`buildctl ${clientFlags} prune --all >/dev/null`);
        const l2 = await runJob(r, "localcache");
        assert.equal(l2.code, 0, l2.progress.slice(-4000));
        console.log(
            `# privileged Jobs: gitapp ${digest}; CACHED steps: registry cache ${hits.first} → ${hits.afterPrune} after prune; local cache ${cachedSteps(l1.progress)} → ${cachedSteps(l2.progress)}`,
        );
        assert.ok(hits.afterPrune > hits.first, `the registry cache hits after prune: ${JSON.stringify(hits)}`);
        assert.ok(cachedSteps(l2.progress) > cachedSteps(l1.progress), "the local cache hits after prune");

        // The cache report's pod (the CronJob's exact container, busybox-free here: Debian's sh and awk)
        // sums what the host daemons' reading sums, through the same daemon at the same moment.
        const report = await runJob(r, CACHE_REPORT_NAME);
        assert.equal(report.code, 0, report.progress.slice(-2000));
        const reported = parseCacheReport(report.message, [`${DAEMON_NAME}-0`])[`${DAEMON_NAME}-0`];
        const direct = parseCacheUsage(await m.exec(`buildctl ${clientFlags} du --format '{{json .}}'`));
        console.log(`# cache report (termination message, ${Buffer.byteLength(report.message)} bytes): ${report.message.trim()}`);
        assert.equal(reported.available, true, report.message);
        assert.ok(reported.records > 0, "the Jobs above left cache records");
        assert.deepEqual(reported, direct, "the report sums buildctl du's records as the host reading does");

        // The preStop, as the kubelet runs it before SIGTERM (a roll, a drain, an eviction): the container's
        // exact command, while a build runs on this daemon, returns only once BuildKit stops reporting it.
        const daemon = r.statefulSet.template.spec.containers[0] as { lifecycle?: { preStop?: { exec?: { command: string[] } } } };
        const preStop = daemon.lifecycle?.preStop?.exec?.command;
        assert.ok(preStop !== undefined, "the daemon container has a preStop");
        // Pulled with the Jobs' registry credentials, as a build Job would (BuildKit asks the client's session).
        put("/srv/long/Dockerfile", `FROM ${BASE()}\nRUN sleep 15\n`);
        await m.exec(
            `rm -f /srv/long/rc; systemd-run --unit=long-build --quiet --setenv=DOCKER_CONFIG=/srv/job-localcache/docker-config sh -c 'buildctl ${clientFlags} build --frontend dockerfile.v0 --local context=/srv/long --local dockerfile=/srv/long --no-cache >/srv/long/log 2>&1; echo $? > /srv/long/rc'`,
        );
        const startBy = Date.now() + 60_000;
        while (!(await m.exec(`buildctl ${clientFlags} debug histories --format '{{.Type}}' 2>/dev/null || true`)).includes("STARTED")) {
            assert.ok(Date.now() < startBy, `the long build did not start: ${await m.exec("cat /srv/long/log 2>/dev/null || true")}`);
            await new Promise((res) => setTimeout(res, 300));
        }
        const t0 = Date.now();
        const stopped = await run(preStop.map(shellQuote).join(" "));
        const waited = (Date.now() - t0) / 1000;
        const rc = (await m.exec("cat /srv/long/rc 2>/dev/null || echo running")).trim();
        console.log(
            `# preStop (${preStop.join(" ").slice(0, 60)}…): waited ${waited.toFixed(1)} s for the running build, which then had exit ${rc}`,
        );
        assert.equal(stopped.code, 0, stopped.out);
        assert.equal(rc, "0", `the build had finished, successfully, when the preStop returned: ${await m.exec("tail -5 /srv/long/log")}`);
        assert.ok(waited >= 3, `the preStop waited for the build (${waited} s)`);
        await m.exec("systemctl stop pod-privileged");
    });

    it("rootless: rootlesskit buildkitd as uid 1000 with the StatefulSet's args; a Job builds an inline here-doc context and pushes; the inline cache hits after prune", async () => {
        const r = await render("rootless", [
            {
                name: "inline",
                context: {
                    files: {
                        Dockerfile: `FROM ${BASE()}\nARG FLAVOR=plain\nRUN <<EOT\necho "flavor=$FLAVOR" > /flavor\nEOT\nCOPY <<EOF /etc/inline.conf\ninline=yes\nEOF\nCOPY data.txt /data.txt\n`,
                        "data.txt": "inline data\n",
                    },
                },
                buildArgs: { FLAVOR: "rootless" },
                tags: [`${registry.host}/team/inline:1`],
                cache: { type: "inline" },
            },
        ]);
        const c = r.statefulSet.template.spec.containers[0];
        console.log(`# rootless daemon: rootlesskit buildkitd ${(c.args ?? []).join(" ")}`);
        await startDaemon("rootless", r);
        // In its user namespace buildkitd is root; on the machine, uid 1000.
        // (The machine's other buildkitd is the host daemon, root.)
        const daemons = (await m.exec("ps -o uid=,args= -C buildkitd")).trim().split("\n");
        assert.deepEqual(
            daemons.filter((l) => l.includes("unix:///run/user/1000/")).map((l) => l.trim().split(/\s+/)[0]),
            ["1000"],
            `buildkitd runs as uid 1000: ${daemons.join(" | ")}`,
        );
        const first = await runJob(r, "inline");
        assert.equal(first.code, 0, first.progress.slice(-4000));
        const digest = digestOf(first.message);
        assert.equal(await registry.manifestDigest("team/inline", "1"), digest);
        await m.exec(`buildctl ${clientFlags} prune --all >/dev/null`);
        const second = await runJob(r, "inline");
        assert.equal(second.code, 0, second.progress.slice(-4000));
        console.log(
            `# rootless Job: inline ${digest}; CACHED steps: inline cache ${cachedSteps(first.progress)} → ${cachedSteps(second.progress)} after prune`,
        );
        assert.ok(cachedSteps(second.progress) > cachedSteps(first.progress), "the inline cache hits after prune");
        await m.exec("systemctl stop pod-rootless");
    });
});
