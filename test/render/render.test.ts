/**
 * Renderers: exact output, TOML/YAML that parse back to the model, units that `systemd-analyze verify`
 * accepts with no output at all.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse as smolParse } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../../components/config";
import { hostBuildkitdModel } from "../../components/host/buildkit";
import { k3sRegistryModels } from "../../components/host/k3s";
import { rewriteKubeconfig } from "../../components/host/kubeconfig";
import { renderBuildkitdToml } from "../../components/render/buildkitd-toml";
import { deriveGcLimits, formatSize, parseSize, quantityBytes } from "../../components/render/gc-limits";
import { parsePreflight } from "../../components/host/host";
import { renderK3sConfig, renderK3sRegistries } from "../../components/render/k3s-yaml";
import { renderNerdctlToml } from "../../components/render/nerdctl-toml";
import {
    buildkitPruneServiceUnit,
    buildkitPruneTimerUnit,
    buildkitServiceUnit,
    buildkitSocketUnit,
    renderUnit,
} from "../../components/render/systemd-unit";
import { FAKE_K3S_KUBECONFIG } from "../../tools/evaluate";
import { verifyUnits } from "../harness/systemd";

/** TOML parsed to plain objects (smol-toml returns null-prototype ones). */
const parseToml = (text: string): unknown => JSON.parse(JSON.stringify(smolParse(text)));

/** Stack config with seed 003's registries: a plain-HTTP one, a mirror for docker.io, a private CA one. */
function seedConfig() {
    const r = parseConfig(
        {
            values: {
                hosts: JSON.stringify([{ name: "local", connection: "local" }]),
                buildkit: JSON.stringify({
                    platforms: ["linux/amd64", "linux/arm64"],
                    gc: { reservedSpace: "10GB", maxUsedSpace: "60GB" },
                    debug: true,
                }),
                registries: JSON.stringify({
                    "192.168.0.127:3000": { http: true },
                    "docker.io": { mirrors: ["192.168.0.127:3000"], runtimeMirrors: ["mirror.example.cn"] },
                    "registry.example.com": { ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", username: "ci" },
                    "self-signed.example.com": { insecure: true },
                }),
                registryPasswords: JSON.stringify({ "registry.example.com": "p@ss'word" }),
            },
            secretKeys: new Set(["registryPasswords"]),
        },
        { runningAsRoot: true },
    );
    assert.deepEqual(r.issues, []);
    return r.config!;
}

describe("buildkitd.toml", () => {
    const c = seedConfig();
    const model = hostBuildkitdModel(c.buildkit, c.registries);
    const toml = renderBuildkitdToml(model);

    it("renders every seed key exactly", () => {
        assert.equal(
            toml,
            `debug = true
root = "/data/buildkit"

[worker.oci]
enabled = false

[worker.containerd]
enabled = true
address = "/run/k3s/containerd/containerd.sock"
namespace = "k8s.io"
platforms = [ "linux/amd64", "linux/arm64" ]
gc = true
reservedSpace = "10GB"
maxUsedSpace = "60GB"

[history]
maxAge = "48h"
maxEntries = 50

[registry."192.168.0.127:3000"]
http = true

[registry."docker.io"]
mirrors = [ "192.168.0.127:3000" ]

[registry."registry.example.com"]
ca = [ "/etc/buildkit/certs/registry.example.com/ca.pem" ]

[registry."self-signed.example.com"]
insecure = true

`,
        );
    });

    it("parses back to the model", () => {
        const doc = parseToml(toml) as Record<string, unknown>;
        assert.deepEqual(doc, {
            debug: true,
            root: "/data/buildkit",
            worker: {
                oci: { enabled: false },
                containerd: {
                    enabled: true,
                    address: "/run/k3s/containerd/containerd.sock",
                    namespace: "k8s.io",
                    platforms: ["linux/amd64", "linux/arm64"],
                    gc: true,
                    reservedSpace: "10GB",
                    maxUsedSpace: "60GB",
                },
            },
            history: { maxAge: "48h", maxEntries: 50 },
            registry: {
                "192.168.0.127:3000": { http: true },
                "docker.io": { mirrors: ["192.168.0.127:3000"] },
                "registry.example.com": { ca: ["/etc/buildkit/certs/registry.example.com/ca.pem"] },
                "self-signed.example.com": { insecure: true },
            },
        });
    });

    it("GC off writes gc = false and no limits; no registries, no registry table", () => {
        const off = renderBuildkitdToml({
            ...model,
            worker: { ...model.worker, gc: { enabled: false, maxUsedSpace: "1GB" }, platforms: [] },
            registries: {},
        });
        const doc = parseToml(off) as { worker: { containerd: Record<string, unknown> }; registry?: unknown };
        assert.equal(doc.worker.containerd.gc, false);
        assert.equal(doc.worker.containerd.maxUsedSpace, undefined);
        assert.equal(doc.worker.containerd.platforms, undefined);
        assert.equal(doc.registry, undefined);
    });

    it("is deterministic: registry order in config does not matter", () => {
        const reversed = Object.fromEntries(Object.entries(model.registries).reverse());
        assert.equal(renderBuildkitdToml({ ...model, registries: reversed }), toml);
    });
});

describe("GC limits derived from the disk, under a ceiling", () => {
    const GiB = 1024 ** 3;
    it("reserve min(10%, 10GB), use at most min(60%, ceiling), keep 20% free; sizes in BuildKit's binary units", () => {
        const rows: [string, number, ReturnType<typeof deriveGcLimits>][] = [
            ["20 GiB data disk", 20 * GiB, { reservedSpace: "2GB", maxUsedSpace: "12GB", minFreeSpace: "4GB" }],
            ["50 GiB volume", 50 * GiB, { reservedSpace: "5GB", maxUsedSpace: "30GB", minFreeSpace: "10GB" }],
            ["8 GiB disk", 8 * GiB, { reservedSpace: "819MB", maxUsedSpace: "4915MB", minFreeSpace: "1638MB" }],
            ["2 TiB disk: the ceilings hold", 2048 * GiB, { reservedSpace: "10GB", maxUsedSpace: "100GB", minFreeSpace: "409GB" }],
            ["unknown", 0, undefined],
        ];
        for (const [label, bytes, want] of rows) assert.deepEqual(deriveGcLimits(bytes), want, label);
        // The rendered sizes mean what was derived, read the way BuildKit reads them.
        assert.equal(parseSize("12GB"), 12 * GiB);
        assert.equal(parseSize(formatSize(4915 * 1024 ** 2)), 4915 * 1024 ** 2);
        assert.equal(quantityBytes("50Gi"), 50 * GiB);
        assert.throws(() => quantityBytes("50G"), /not a storage quantity/);
    });

    it("a host with a small data disk (20 GiB, 2 CPUs): the rendered buildkitd.toml shows the derived limits and max-parallelism", () => {
        const r = parseConfig(
            { values: { hosts: JSON.stringify([{ name: "local", connection: "local" }]) }, secretKeys: new Set() },
            {
                runningAsRoot: true,
            },
        );
        const facts = parsePreflight("arch=amd64\ndisk_kib=20971520\ncpus=2\n");
        assert.deepEqual(facts, { arch: "amd64", diskBytes: 20 * GiB, cpus: 2 });
        const toml = renderBuildkitdToml(hostBuildkitdModel(r.config!.buildkit, {}, facts));
        console.log(`# buildkitd.toml for a host with a 20 GiB data disk and 2 CPUs:\n${toml.replace(/^/gm, "#   ")}`);
        assert.equal(
            toml,
            `debug = false
root = "/data/buildkit"

[worker.oci]
enabled = false

[worker.containerd]
enabled = true
address = "/run/k3s/containerd/containerd.sock"
namespace = "k8s.io"
max-parallelism = 2
gc = true
reservedSpace = "2GB"
maxUsedSpace = "12GB"
minFreeSpace = "4GB"

[history]
maxAge = "48h"
maxEntries = 50

`,
        );
        // A preflight that reported nothing (state from before it measured): BuildKit's own defaults apply.
        const unknown = parseToml(renderBuildkitdToml(hostBuildkitdModel(r.config!.buildkit, {}, parsePreflight("arch=arm64\n")))) as {
            worker: { containerd: Record<string, unknown> };
        };
        assert.deepEqual([unknown.worker.containerd["max-parallelism"], unknown.worker.containerd.reservedSpace], [undefined, "10%"]);
    });
});

describe("k3s config.yaml and registries.yaml", () => {
    it("first server of an HA cluster: seed 000's flags, cluster-init, tls-san", () => {
        const text = renderK3sConfig({
            role: "server",
            nodeName: "server-1",
            dataDir: "/data/k3s",
            token: "tok",
            clusterInit: true,
            tlsSans: ["10.0.0.5"],
            disable: ["traefik", "local-storage", "metrics-server"],
            disableNetworkPolicy: true,
            disableCloudController: true,
            disableHelmController: true,
        });
        assert.equal(
            text,
            `node-name: server-1
data-dir: /data/k3s
token: tok
cluster-init: true
tls-san:
  - 10.0.0.5
disable:
  - traefik
  - local-storage
  - metrics-server
disable-network-policy: true
disable-cloud-controller: true
disable-helm-controller: true
write-kubeconfig-mode: "0600"
`,
        );
    });

    it("an agent gets the server URL and no server-only keys", () => {
        const text = renderK3sConfig({
            role: "agent",
            nodeName: "agent-1",
            dataDir: "/data/k3s",
            token: "tok",
            serverUrl: "https://10.0.0.5:6443",
            clusterInit: false,
            tlsSans: ["x"],
            disable: ["traefik"],
            disableNetworkPolicy: true,
            disableCloudController: true,
            disableHelmController: true,
        });
        assert.deepEqual(parseYaml(text), {
            "node-name": "agent-1",
            "data-dir": "/data/k3s",
            token: "tok",
            server: "https://10.0.0.5:6443",
        });
    });

    it("registries.yaml: runtime mirrors, plain HTTP, auth, CA and insecure", () => {
        const c = seedConfig();
        const text = renderK3sRegistries(k3sRegistryModels(c.registries, { "registry.example.com": "p@ss'word" }));
        assert.deepEqual(parseYaml(text), {
            mirrors: {
                "192.168.0.127:3000": { endpoint: ["http://192.168.0.127:3000"] },
                "docker.io": { endpoint: ["https://mirror.example.cn"] },
            },
            configs: {
                "registry.example.com": {
                    auth: { username: "ci", password: "p@ss'word" },
                    tls: { ca_file: "/etc/rancher/k3s/certs/registry.example.com/ca.crt" },
                },
                "self-signed.example.com": { tls: { insecure_skip_verify: true } },
            },
        });
    });
});

describe("nerdctl.toml", () => {
    it("seed 003's keys, pointed at k3s's containerd and at the registry hosts files k3s writes under its data dir", () => {
        const text = renderNerdctlToml({ namespace: "k8s.io", insecureRegistry: true, k3sDataDir: "/data/k3s" });
        assert.deepEqual(parseToml(text), {
            debug: false,
            debug_full: false,
            address: "unix:///run/k3s/containerd/containerd.sock",
            namespace: "k8s.io",
            snapshotter: "overlayfs",
            cgroup_manager: "systemd",
            hosts_dir: ["/data/k3s/agent/etc/containerd/certs.d", "/etc/containerd/certs.d", "/etc/docker/certs.d"],
            experimental: true,
            insecure_registry: true,
        });
    });
});

describe("kubeconfig", () => {
    it("rewrites the server address (IPv6 bracketed) and keeps the rest", () => {
        const out = parseYaml(rewriteKubeconfig(FAKE_K3S_KUBECONFIG, "10.0.0.5")) as {
            clusters: { cluster: { server: string } }[];
            users: unknown;
        };
        assert.equal(out.clusters[0].cluster.server, "https://10.0.0.5:6443");
        assert.deepEqual(out.users, (parseYaml(FAKE_K3S_KUBECONFIG) as { users: unknown }).users);
        const v6 = parseYaml(rewriteKubeconfig(FAKE_K3S_KUBECONFIG, "fd00::5")) as { clusters: { cluster: { server: string } }[] };
        assert.equal(v6.clusters[0].cluster.server, "https://[fd00::5]:6443");
        assert.throws(() => rewriteKubeconfig("kind: Config\n", "x"), /^Error: the k3s kubeconfig has no clusters/);
    });
});

describe("systemd units", () => {
    const dir = mkdtempSync(join(tmpdir(), "k3sbk-units-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const socket = renderUnit(buildkitSocketUnit("root"));
    const service = renderUnit(buildkitServiceUnit("k3s.service"));

    it("buildkit.socket and buildkit.service render exactly", () => {
        assert.equal(
            socket,
            `[Unit]
Description=BuildKit socket
Documentation=https://github.com/moby/buildkit

[Socket]
ListenStream=/run/buildkit/buildkitd.sock
SocketMode=0660
SocketUser=root
SocketGroup=root
RemoveOnStop=yes

[Install]
WantedBy=sockets.target
`,
        );
        assert.equal(
            service,
            `[Unit]
Description=BuildKit daemon (worker: k3s containerd)
Documentation=https://github.com/moby/buildkit
Requires=buildkit.socket
After=buildkit.socket k3s.service
Wants=k3s.service

[Service]
ExecStart=/usr/local/bin/buildkitd --addr fd:// --config /etc/buildkit/buildkitd.toml
SuccessExitStatus=1
ExecStopPost=/bin/rm -f -- /run/buildkit/otel-grpc.sock
Restart=always
RestartSec=2s
LimitNOFILE=1048576
Delegate=yes
KillMode=process

[Install]
WantedBy=multi-user.target
`,
        );
    });

    it("pass systemd-analyze verify with no output at all", () => {
        writeFileSync(join(dir, "buildkit.socket"), socket);
        writeFileSync(join(dir, "buildkit.service"), service);
        const r = verifyUnits([join(dir, "buildkit.socket"), join(dir, "buildkit.service")]);
        assert.equal(r.output, "");
        assert.equal(r.status, 0);
    });

    it("the scheduled prune's service and timer: exact, and they pass systemd-analyze verify with no output", () => {
        const prune = { schedule: "Sun *-*-* 03:00", keepDurationHours: 168 };
        const pruneService = renderUnit(buildkitPruneServiceUnit(prune));
        const pruneTimer = renderUnit(buildkitPruneTimerUnit(prune));
        assert.equal(
            pruneTimer,
            `[Unit]
Description=Prune BuildKit's build cache on a schedule (k3s-buildkit)

[Timer]
OnCalendar=Sun *-*-* 03:00
Persistent=true
RandomizedDelaySec=10min

[Install]
WantedBy=timers.target
`,
        );
        assert.match(
            pruneService,
            /^ExecStart=\/usr\/local\/bin\/buildctl --addr unix:\/\/\/run\/buildkit\/buildkitd\.sock prune --keep-duration 168h$/m,
        );
        writeFileSync(join(dir, "buildkit.socket"), socket);
        writeFileSync(join(dir, "buildkit.service"), service);
        writeFileSync(join(dir, "buildkit-prune.service"), pruneService);
        writeFileSync(join(dir, "buildkit-prune.timer"), pruneTimer);
        const r = verifyUnits([join(dir, "buildkit-prune.service"), join(dir, "buildkit-prune.timer")], "/usr/local/bin/buildctl");
        assert.equal(r.output, "");
        assert.equal(r.status, 0);
        // A calendar event systemd cannot read is reported by the same check.
        writeFileSync(join(dir, "bad-prune.timer"), pruneTimer.replace("Sun *-*-* 03:00", "sometimes"));
        writeFileSync(join(dir, "bad-prune.service"), pruneService);
        assert.notEqual(verifyUnits([join(dir, "bad-prune.timer")], "/usr/local/bin/buildctl").output, "");
    });

    it("the verify check can fail: an unknown key is reported", () => {
        writeFileSync(join(dir, "bad.service"), `${service}\n[Service]\nBogus=1\n`);
        assert.match(verifyUnits([join(dir, "bad.service")]).output, /Unknown key 'Bogus'/);
    });

    it("rejects a value with a newline (it would inject a key)", () => {
        assert.throws(() => renderUnit([["Service", [["ExecStart", "/bin/true\nUser=nobody"]]]]), /renderUnit: bad entry/);
    });
});
