/**
 * The host layer under mocks: children and their inputs, dependencies (BuildKit after k3s, agents after
 * the server, joins after the token), secrets, what is not created, and the blast radius of changes,
 * comparing the recorded inputs of two program runs.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { DEFAULT_VERSIONS } from "../../components/config";
import { hostScript } from "../../components/host/scripts";
import { FAKE_SSH_KEY as KEY, diffRuns, isSecretValue, type RecordedWithDeps, resolve, runPlatform } from "../../tools/evaluate";

const server = { name: "s1", address: "10.0.0.5" };
const agent = { name: "a1", role: "agent", address: "10.0.0.6" };
/** The host layer alone; the in-cluster daemon has its own tests (test/cluster). */
const base = { sshPrivateKey: KEY, hosts: [server, agent], cluster: { enabled: false } };

const byName = (rs: RecordedWithDeps[], name: string) => {
    const r = rs.find((x) => x.name === name);
    assert.ok(r, `no resource ${name}`);
    return r;
};
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? (v as { value: unknown }).value : v);

describe("host layer: children, inputs, dependencies", () => {
    it("a server and an agent: every child, parented to its component", async () => {
        const { recorded } = await runPlatform(base, ["sshPrivateKey"]);
        const perHost = (h: string, role: "server" | "agent") =>
            [
                `${h}:k3s-buildkit:host:Host`,
                `${h}-preflight:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`,
                `${h}:k3s-buildkit:host:K3sNode`,
                `${h}-k3s-config:pulumi-nodejs:dynamic/k3s-buildkit:HostFile`,
                `${h}-k3s-registries:pulumi-nodejs:dynamic/k3s-buildkit:HostFile`,
                `${h}-k3s-install:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`,
                `${h}-k3s-drain:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`,
                `${h}-k3s:pulumi-nodejs:dynamic/k3s-buildkit:SystemdService`,
                // A server's ready check runs in its k3s unit's start; an agent's is a step on the server.
                ...(role === "agent" ? [`${h}-k3s-ready:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`] : []),
                ...(role === "server"
                    ? [`${h}-kubeconfig:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`]
                    : [`${h}-k3s-member:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`]),
                `${h}-k3s-certificates:pulumi-nodejs:dynamic/k3s-buildkit:K3sCertificates`,
                `${h}:k3s-buildkit:host:BuildkitHost`,
                `${h}-buildkit-install:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`,
                `${h}-buildkitd-toml:pulumi-nodejs:dynamic/k3s-buildkit:HostFile`,
                `${h}-buildkit-socket-unit:pulumi-nodejs:dynamic/k3s-buildkit:HostFile`,
                `${h}-buildkit-service-unit:pulumi-nodejs:dynamic/k3s-buildkit:HostFile`,
                `${h}-buildkit-socket:pulumi-nodejs:dynamic/k3s-buildkit:SystemdService`,
                `${h}-buildkit:pulumi-nodejs:dynamic/k3s-buildkit:SystemdService`,
                `${h}-buildkit-cache-usage:pulumi-nodejs:dynamic/k3s-buildkit:BuildkitCacheUsage`,
                `${h}:k3s-buildkit:host:Nerdctl`,
                `${h}-nerdctl-install:pulumi-nodejs:dynamic/k3s-buildkit:HostStep`,
                `${h}-nerdctl-toml:pulumi-nodejs:dynamic/k3s-buildkit:HostFile`,
            ].sort();
        assert.deepEqual(
            recorded.map((r) => `${r.name}:${r.type}`).sort(),
            [
                "k3s-buildkit:k3s-buildkit:index:Platform",
                "k3s-token:pulumi-nodejs:dynamic/k3s-buildkit:K3sToken",
                "k3s-first-server:pulumi-nodejs:dynamic/k3s-buildkit:FirstServer",
                ...perHost("s1", "server"),
                ...perHost("a1", "agent"),
            ].sort(),
        );
        // The tree a reviewer reads in a preview: Platform → host → {preflight, k3s, BuildKit, nerdctl}.
        const urn = (name: string) => byName(recorded, name).urn.replace("urn:pulumi:test::k3s-buildkit::", "");
        const host = "k3s-buildkit:index:Platform$k3s-buildkit:host:Host";
        assert.equal(urn("s1-preflight"), `${host}$pulumi-nodejs:dynamic/k3s-buildkit:HostStep::s1-preflight`);
        assert.equal(
            urn("s1-k3s-install"),
            `${host}$k3s-buildkit:host:K3sNode$pulumi-nodejs:dynamic/k3s-buildkit:HostStep::s1-k3s-install`,
        );
        assert.equal(
            urn("a1-buildkit"),
            `${host}$k3s-buildkit:host:BuildkitHost$pulumi-nodejs:dynamic/k3s-buildkit:SystemdService::a1-buildkit`,
        );
        assert.equal(
            urn("a1-nerdctl-toml"),
            `${host}$k3s-buildkit:host:Nerdctl$pulumi-nodejs:dynamic/k3s-buildkit:HostFile::a1-nerdctl-toml`,
        );
        assert.equal(urn("k3s-token"), "k3s-buildkit:index:Platform$pulumi-nodejs:dynamic/k3s-buildkit:K3sToken::k3s-token");
    });

    it("orders the steps: preflight → k3s install → drain → restart → ready → BuildKit/nerdctl; the agent starts after the server is Ready", async () => {
        const { recorded } = await runPlatform(base, ["sshPrivateKey"]);
        const deps = (n: string) => byName(recorded, n).dependsOn;
        assert.deepEqual(deps("s1-k3s-install"), ["k3s-first-server", "s1-preflight"]);
        assert.deepEqual(deps("s1-k3s-config"), ["k3s-first-server", "s1-preflight"]);
        assert.deepEqual(deps("s1-k3s-drain"), ["k3s-first-server", "s1-k3s-install", "s1-preflight"]);
        assert.deepEqual(deps("s1-k3s"), ["s1-k3s-config", "s1-k3s-drain", "s1-k3s-install", "s1-k3s-registries"]);
        // The server's start waits for it to be Ready (one step); the agent's readiness is a step on the server.
        assert.match(String(byName(recorded, "s1-k3s").inputs.readyScript), /^export K3S_NODE='s1'$/m);
        assert.equal(byName(recorded, "a1-k3s").inputs.readyScript, undefined);
        assert.deepEqual(deps("a1-k3s-ready"), ["a1-k3s"]);
        assert.deepEqual(deps("s1-kubeconfig"), ["s1-k3s", "s1-k3s-certificates"]);
        // Certificates are read (and rotated within the window) once the node is Ready, after the previous nodes'.
        assert.deepEqual(deps("s1-k3s-certificates"), ["s1-k3s"]);
        assert.deepEqual(deps("a1-k3s-certificates"), ["a1-k3s-ready", "s1-k3s", "s1-k3s-certificates"]);
        // The agent downloads and installs beside the server; its drain and start wait for the server.
        assert.deepEqual(deps("a1-k3s-install"), ["a1-preflight", "k3s-first-server"]);
        assert.deepEqual(deps("a1-k3s-config"), ["a1-preflight", "k3s-first-server"]);
        assert.deepEqual(deps("a1-k3s-drain"), ["a1-k3s-install", "a1-preflight", "k3s-first-server", "s1-k3s", "s1-k3s-certificates"]);
        assert.deepEqual(deps("a1-k3s"), ["a1-k3s-config", "a1-k3s-drain", "a1-k3s-install", "a1-k3s-registries"]);
        assert.deepEqual(deps("a1-k3s-member"), ["a1-k3s-ready"], "a removal drains and deletes the node before the uninstall");
        assert.deepEqual(
            deps("s1-buildkit-install"),
            ["k3s-first-server", "s1-k3s-install", "s1-preflight"],
            "BuildKit installs beside k3s's start",
        );
        assert.deepEqual(deps("s1-buildkit-socket"), [
            "s1-buildkit-install",
            "s1-buildkit-service-unit",
            "s1-buildkit-socket-unit",
            "s1-buildkitd-toml",
        ]);
        assert.deepEqual(
            deps("s1-buildkit"),
            ["s1-buildkit-socket", "s1-k3s"],
            "the daemon starts once k3s (its worker's containerd) is Ready",
        );
        assert.match(
            String(byName(recorded, "s1-buildkit").inputs.readyScript),
            /buildctl --addr "\$BUILDKIT_ADDR" debug workers/,
            "the start waits for the daemon to answer, in the same step",
        );
        assert.deepEqual(
            deps("a1-nerdctl-install"),
            ["a1-preflight", "k3s-first-server"],
            "nerdctl installs beside k3s, after the first-server guard",
        );
    });

    it("joins carry the token (from the secret random password) in config.yaml, and the server URL", async () => {
        const { recorded } = await runPlatform(base, ["sshPrivateKey"]);
        const cfg = byName(recorded, "a1-k3s-config").inputs.content;
        assert.ok(isSecretValue(cfg), "config.yaml holds the token and is secret");
        assert.deepEqual(parse(unwrap(cfg) as string), {
            "node-name": "a1",
            "data-dir": "/data/k3s",
            token: "fake-k3s-token",
            server: "https://10.0.0.5:6443",
        });
        const s1 = parse(unwrap(byName(recorded, "s1-k3s-config").inputs.content) as string) as Record<string, unknown>;
        assert.equal(s1.token, "fake-k3s-token");
        assert.deepEqual(s1["tls-san"], ["10.0.0.5"]);
        assert.equal(s1["cluster-init"], undefined, "one server: no embedded etcd");
        assert.equal(byName(recorded, "a1-k3s-config").inputs.mode, "0600");
        const install = byName(recorded, "a1-k3s-install").inputs;
        assert.match(String(install.create), /^set -euo pipefail\n/, "the install step's create is its script");
        assert.ok(!JSON.stringify(install).includes("fake-k3s-token"), "the token is not in the install step");
    });

    it("the agent's drain, readiness and removal run on the server, where kubectl answers", async () => {
        const { recorded } = await runPlatform(base, ["sshPrivateKey"]);
        for (const step of ["a1-k3s-drain", "a1-k3s-ready", "a1-k3s-member"]) {
            assert.equal((unwrap(byName(recorded, step).inputs.target) as { host: string }).host, "10.0.0.5", step);
        }
        // The drain and ready steps name the same restart (a hash of the restart triggers).
        const stampOf = (step: string) =>
            /^export K3S_RESTART_STAMP='([0-9a-f]{64})'$/m.exec(String(byName(recorded, step).inputs.create))?.[1];
        const stamp = stampOf("a1-k3s-ready");
        assert.ok(stamp !== undefined && stampOf("a1-k3s-drain") === stamp);
        assert.equal(
            byName(recorded, "a1-k3s-ready").inputs.create,
            hostScript("k3s-ready", {
                K3S_NODE: "a1",
                K3S_VERSION: DEFAULT_VERSIONS.k3s,
                K3S_CHECK_READYZ: false,
                K3S_READY_TIMEOUT: 300,
                K3S_RESTART_STAMP: stamp,
            }),
        );
        assert.equal(
            byName(recorded, "a1-k3s-drain").inputs.create,
            hostScript("k3s-drain", { K3S_NODE: "a1", K3S_DRAIN: true, K3S_DRAIN_TIMEOUT: 300, K3S_RESTART_STAMP: stamp }),
        );
        assert.equal(
            byName(recorded, "a1-k3s-member").inputs.delete,
            hostScript("k3s-remove", { K3S_NODE: "a1", K3S_DRAIN: true, K3S_DRAIN_TIMEOUT: 300 }),
        );
        // A single node has nowhere to move its pods: it restarts in place.
        const single = await runPlatform({ ...base, hosts: [server] }, ["sshPrivateKey"]);
        assert.match(String(byName(single.recorded, "s1-k3s-drain").inputs.create), /^export K3S_DRAIN='false'$/m);
    });

    it("HA: cluster-init on the first server, the others join it", async () => {
        const { recorded } = await runPlatform(
            { ...base, hosts: [server, { name: "s2", address: "10.0.0.7" }, { name: "s3", address: "10.0.0.8" }, agent] },
            ["sshPrivateKey"],
        );
        const cfg = (n: string) => parse(unwrap(byName(recorded, `${n}-k3s-config`).inputs.content) as string) as Record<string, unknown>;
        assert.equal(cfg("s1")["cluster-init"], true);
        assert.equal(cfg("s1").server, undefined);
        for (const n of ["s2", "s3"]) {
            assert.equal(cfg(n)["cluster-init"], undefined);
            assert.equal(cfg(n).server, "https://10.0.0.5:6443");
            assert.deepEqual(cfg(n)["tls-san"], [n === "s2" ? "10.0.0.7" : "10.0.0.8"]);
        }
        assert.equal(recorded.filter((r) => r.name.endsWith("-kubeconfig")).length, 1, "kubeconfig read off the first server only");
        assert.equal(byName(recorded, "s2-k3s").inputs.unit, "k3s.service");
        assert.equal(byName(recorded, "a1-k3s").inputs.unit, "k3s-agent.service");
    });

    it("a registration address: joiners register there, every server's certificate carries it, the kubeconfig points at it", async () => {
        const hosts = [server, { name: "s2", address: "10.0.0.7" }, agent];
        const { recorded, platform } = await runPlatform({ ...base, hosts, k3s: { registrationAddress: "k3s.example.com" } }, [
            "sshPrivateKey",
        ]);
        const cfg = (n: string) => parse(unwrap(byName(recorded, `${n}-k3s-config`).inputs.content) as string) as Record<string, unknown>;
        assert.equal(cfg("s1")["cluster-init"], true, "the first server still starts the cluster");
        assert.deepEqual(cfg("s1")["tls-san"], ["10.0.0.5", "k3s.example.com"]);
        assert.deepEqual(cfg("s2")["tls-san"], ["10.0.0.7", "k3s.example.com"]);
        for (const n of ["s2", "a1"]) assert.equal(cfg(n).server, "https://k3s.example.com:6443", `${n} joins at the registration address`);
        assert.equal(cfg("a1")["tls-san"], undefined, "agents serve no API");
        assert.match((await resolve(platform.kubeconfig!)).value ?? "", /server: https:\/\/k3s\.example\.com:6443/);
        // The first server can then be removed: it drains and deletes its own node first, on itself.
        const member = byName(recorded, "s1-k3s-member").inputs.target as { value: { host: string } };
        assert.equal(member.value.host, "10.0.0.5");
        const guard = byName(recorded, "k3s-first-server").inputs;
        assert.deepEqual(
            Object.fromEntries(Object.entries(guard).filter(([k]) => k !== "__provider")),
            { host: "s1", address: "10.0.0.5", registrationAddress: "k3s.example.com", servers: ["s1", "s2"] },
            "the guard records the address and the servers",
        );
        // Without it: the first server's address, as before.
        const plain = await runPlatform({ ...base, hosts }, ["sshPrivateKey"]);
        const plainCfg = parse(unwrap(byName(plain.recorded, "a1-k3s-config").inputs.content) as string) as Record<string, unknown>;
        assert.equal(plainCfg.server, "https://10.0.0.5:6443");
        assert.equal(
            plain.recorded.filter((r) => r.name === "s1-k3s-member").length,
            0,
            "without it, the first server has no removal step",
        );
    });

    it("the install steps carry pinned versions and mirror URLs; uninstall on delete", async () => {
        const { recorded } = await runPlatform(
            {
                ...base,
                k3s: {
                    installScriptUrl: "https://rancher-mirror.example.cn/k3s/k3s-install.sh",
                    binaryBaseUrl: "https://mirror.example.cn/k3s",
                },
                buildkit: { downloadBaseUrl: "https://mirror.example.cn/buildkit", sha256: { amd64: "d".repeat(64) } },
                nerdctl: { downloadBaseUrl: "https://mirror.example.cn/nerdctl" },
            },
            ["sshPrivateKey"],
        );
        const k3s = byName(recorded, "s1-k3s-install").inputs;
        assert.equal(
            k3s.create,
            hostScript("k3s-install", {
                ARCH: "amd64",
                K3S_VERSION: DEFAULT_VERSIONS.k3s,
                K3S_BINARY_BASE_URL: "https://mirror.example.cn/k3s",
                K3S_BINARY_LAYOUT: "github",
                K3S_INSTALL_SCRIPT_URL: "https://rancher-mirror.example.cn/k3s/k3s-install.sh",
                K3S_ROLE: "server",
                K3S_SERVER_URL: "",
                K3S_DATA_DIR: "/data/k3s",
                K3S_BINARY_SHA256: "",
                K3S_AIRGAP_IMAGES_URL: "",
                K3S_AIRGAP_IMAGES_PATH: "",
            }),
        );
        assert.equal(k3s.delete, hostScript("k3s-uninstall", { K3S_ROLE: "server", K3S_DATA_DIR: "/data/k3s" }));
        const bk = byName(recorded, "a1-buildkit-install").inputs;
        assert.equal(
            bk.create,
            hostScript("buildkit-install", {
                BUILDKIT_VERSION: DEFAULT_VERSIONS.buildkit,
                BUILDKIT_BASE_URL: "https://mirror.example.cn/buildkit",
                ARCH: "amd64",
                BUILDKIT_SHA256: "d".repeat(64),
                BUILDKIT_ROOT: "/data/buildkit",
            }),
            "a pinned checksum wins over trust on first use",
        );
        assert.equal(
            byName(recorded, "a1-buildkit-install").inputs.delete,
            hostScript("buildkit-uninstall", { BUILDKIT_ROOT: "/data/buildkit" }),
            "destroy removes BuildKit's root when its install created it",
        );
        assert.match(
            byName(recorded, "s1-nerdctl-install").inputs.create as string,
            /export NERDCTL_BASE_URL='https:\/\/mirror\.example\.cn\/nerdctl'/,
        );
    });

    it("trust on first use: later hosts must see the checksum the first host recorded", async () => {
        const { recorded } = await runPlatform(base, ["sshPrivateKey"]);
        assert.match(byName(recorded, "s1-buildkit-install").inputs.create as string, /^export BUILDKIT_SHA256=''$/m);
        assert.match(
            byName(recorded, "a1-buildkit-install").inputs.create as string,
            new RegExp(`^export BUILDKIT_SHA256='${"b".repeat(64)}'$`, "m"),
        );
    });

    it("air-gap images from a local file are copied to the host, then installed from there", async () => {
        const dir = mkdtempSync(join(tmpdir(), "airgap-"));
        const images = join(dir, "k3s-airgap-images-amd64.tar.zst");
        writeFileSync(images, "images");
        const { recorded } = await runPlatform({ ...base, k3s: { airgap: { imagesPath: images } } }, ["sshPrivateKey"]);
        rmSync(dir, { recursive: true, force: true });
        const copy = byName(recorded, "s1-k3s-airgap-images");
        assert.equal(copy.type, "pulumi-nodejs:dynamic/k3s-buildkit:HostUpload");
        assert.equal(copy.inputs.sha256, createHash("sha256").update("images").digest("hex"));
        assert.equal(copy.inputs.remotePath, "/var/tmp/k3s-airgap-images-amd64.tar.zst");
        assert.match(
            byName(recorded, "s1-k3s-install").inputs.create as string,
            /^export K3S_AIRGAP_IMAGES_PATH='\/var\/tmp\/k3s-airgap-images-amd64\.tar\.zst'$/m,
        );
        assert.ok(byName(recorded, "s1-k3s-install").dependsOn.includes("s1-k3s-airgap-images"));
    });

    it("registries: secrets stay secret in registries.yaml; CA files written for k3s and BuildKit", async () => {
        const { recorded } = await runPlatform(
            {
                ...base,
                registries: {
                    "registry.example.com": { username: "ci", ca: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n" },
                },
                registryPasswords: { "registry.example.com": "hunter2" },
            },
            ["sshPrivateKey", "registryPasswords"],
        );
        const reg = byName(recorded, "s1-k3s-registries").inputs.content;
        assert.ok(isSecretValue(reg));
        assert.match(unwrap(reg) as string, /password: hunter2/);
        for (const r of recorded) {
            if (r.name === "s1-k3s-registries" || r.name === "a1-k3s-registries") continue;
            for (const [k, v] of Object.entries(r.inputs)) {
                if (!isSecretValue(v)) assert.ok(!JSON.stringify(v).includes("hunter2"), `${r.name}.${k} holds the password in the clear`);
            }
        }
        assert.equal(byName(recorded, "s1-k3s-ca-registry.example.com").inputs.path, "/etc/rancher/k3s/certs/registry.example.com/ca.crt");
        assert.equal(
            byName(recorded, "s1-buildkit-ca-registry.example.com").inputs.path,
            "/etc/buildkit/certs/registry.example.com/ca.pem",
        );
    });

    it("creates nothing for nerdctl when it is off, and nothing for agents when there are none", async () => {
        const { recorded } = await runPlatform({ ...base, hosts: [server], nerdctl: { enabled: false } }, ["sshPrivateKey"]);
        assert.deepEqual(
            recorded.filter((r) => r.name.includes("nerdctl") || r.type.endsWith("Nerdctl")),
            [],
        );
        assert.ok(recorded.every((r) => ["k3s-token", "k3s-buildkit", "k3s-first-server"].includes(r.name) || r.name.startsWith("s1")));
    });

    it("a prune schedule adds buildkit-prune.service and .timer and the timer's state, after BuildKit is ready; none without one", async () => {
        const { recorded } = await runPlatform(
            { ...base, hosts: [server], buildkit: { prune: { schedule: "Sun *-*-* 03:00", keepStorageMB: 20000 } } },
            ["sshPrivateKey"],
        );
        const prune = recorded.filter((r) => r.name.includes("prune"));
        assert.deepEqual(prune.map((r) => `${r.type} ${r.name}`).sort(), [
            "pulumi-nodejs:dynamic/k3s-buildkit:HostFile s1-buildkit-prune-service-unit",
            "pulumi-nodejs:dynamic/k3s-buildkit:HostFile s1-buildkit-prune-timer-unit",
            "pulumi-nodejs:dynamic/k3s-buildkit:SystemdService s1-buildkit-prune-timer",
        ]);
        const timer = prune.find((r) => r.type.endsWith("SystemdService"))!;
        assert.equal(timer.inputs.unit, "buildkit-prune.timer");
        assert.ok(timer.dependsOn.includes("s1-buildkit"), "the timer starts once BuildKit answers");
        const service = prune.find((r) => r.name === "s1-buildkit-prune-service-unit")!;
        assert.match(
            String(service.inputs.content),
            /^ExecStart=\/usr\/local\/bin\/buildctl --addr unix:\/\/\/run\/buildkit\/buildkitd\.sock prune --keep-duration 168h --keep-storage 20000$/m,
        );
        const without = await runPlatform({ ...base, hosts: [server] }, ["sshPrivateKey"]);
        assert.deepEqual(
            without.recorded.filter((r) => r.name.includes("prune")),
            [],
        );
    });

    it("a preview with every host output unknown constructs without error", async () => {
        const { recorded } = await runPlatform(base, ["sshPrivateKey"], true);
        assert.equal(recorded.length, 46);
    });

    it("the kubeconfig output is secret and points at the first server's address", async () => {
        const { platform } = await runPlatform(base, ["sshPrivateKey"]);
        const k = await resolve(platform.kubeconfig!);
        assert.equal(k.secret, true);
        assert.match(k.value ?? "", /server: https:\/\/10\.0\.0\.5:6443/);
    });
});

describe("blast radius: inputs changed between two runs", () => {
    const run = async (values: Record<string, unknown>) => (await runPlatform(values, ["sshPrivateKey"])).recorded;

    it("a re-run with no change changes nothing", async () => {
        assert.deepEqual(diffRuns(await run(base), await run(base)), { changed: [], added: [], removed: [] });
    });

    it("changing a build-time registry mirror rewrites buildkitd.toml and restarts buildkitd, and nothing else", async () => {
        const a = await run({ ...base, registries: { "docker.io": { mirrors: ["m1.example.com"] } } });
        const b = await run({ ...base, registries: { "docker.io": { mirrors: ["m2.example.com"] } } });
        assert.deepEqual(diffRuns(a, b), {
            changed: ["a1-buildkit", "a1-buildkitd-toml", "s1-buildkit", "s1-buildkitd-toml"],
            added: [],
            removed: [],
        });
    });

    it("bumping BuildKit reinstalls BuildKit only", async () => {
        const a = await run(base);
        const b = await run({ ...base, buildkit: { version: "v0.33.0" } });
        assert.deepEqual(diffRuns(a, b), {
            changed: ["a1-buildkit", "a1-buildkit-install", "s1-buildkit", "s1-buildkit-install"],
            added: [],
            removed: [],
        });
    });

    it("bumping k3s re-runs the k3s install steps and restarts k3s (the new binary runs), nothing else", async () => {
        const a = await run(base);
        const b = await run({ ...base, k3s: { version: "v1.36.1+k3s1" } });
        assert.deepEqual(diffRuns(a, b), {
            changed: ["a1-k3s", "a1-k3s-drain", "a1-k3s-install", "a1-k3s-ready", "s1-k3s", "s1-k3s-drain", "s1-k3s-install"],
            added: [],
            removed: [],
        });
    });

    it("adding an agent touches nothing on existing hosts", async () => {
        const a = await run(base);
        const b = await run({ ...base, hosts: [server, agent, { name: "a2", role: "agent", address: "10.0.0.9" }] });
        const d = diffRuns(a, b);
        assert.deepEqual(d.changed, []);
        assert.deepEqual(d.removed, []);
        assert.ok(d.added.length === 22 && d.added.every((n) => n.startsWith("a2")), d.added.join(","));
    });
});
