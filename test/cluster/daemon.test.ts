/**
 * The in-cluster buildkitd under mocks: every object's spec (probes, security per mode, volumes and
 * mounts, args, ports, labels vs selectors, TLS SANs), secrets kept secret, the provider passed to every
 * Kubernetes child, a config change rolling the pods, every manifest valid against the Kubernetes
 * OpenAPI schema (kubernetes-models) in both modes, and a preview with an unknown kubeconfig.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse as smolParse } from "smol-toml";
import { FAKE_SSH_KEY as KEY, isSecretValue, type RecordedWithDeps, resolve, runPlatform, unwrapSecrets } from "../../tools/evaluate";
import { tlsPlan } from "../../components/cluster/specs";

const withHosts = { sshPrivateKey: KEY, hosts: [{ name: "s1", address: "10.0.0.5" }] };
const byo = { kubeconfig: "apiVersion: v1\nkind: Config\n" };
const registries = {
    "docker.io": { mirrors: ["mirror.example.com"] },
    "10.0.0.9:5000": { http: true },
    "registry.example.com": { username: "ci", ca: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n" },
};

const unwrap = unwrapSecrets;
const get = (rs: RecordedWithDeps[], name: string) => {
    const r = rs.find((x) => x.name === name);
    assert.ok(r, `no resource ${name}`);
    return r;
};

interface Container {
    name: string;
    image: string;
    args: string[];
    ports: unknown[];
    readinessProbe: unknown;
    livenessProbe: unknown;
    securityContext: unknown;
    volumeMounts: unknown[];
}
interface StsSpec {
    serviceName: string;
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: {
        metadata: { labels: Record<string, string>; annotations: Record<string, string> };
        spec: {
            containers: Container[];
            initContainers?: Container[];
            volumes: unknown[];
            securityContext?: unknown;
            nodeSelector?: unknown;
            tolerations?: unknown;
            terminationGracePeriodSeconds?: number;
        };
    };
    volumeClaimTemplates?: unknown[];
}

async function daemon(values: Record<string, unknown>, secretKeys: string[] = ["kubeconfig", "registryPasswords"]) {
    const { recorded, platform } = await runPlatform(
        { ...byo, registries, registryPasswords: { "registry.example.com": "hunter2" }, ...values },
        secretKeys,
    );
    const sts = unwrap(get(recorded, "buildkitd-statefulset").inputs) as { spec: StsSpec; metadata: Record<string, unknown> };
    return { recorded, platform, sts, c: sts.spec.template.spec.containers[0] };
}

const PROBE = { exec: { command: ["buildctl", "debug", "workers"] }, initialDelaySeconds: 5, periodSeconds: 30 };

describe("BuildkitDaemon (privileged, seed 002)", () => {
    it("creates the namespace, TLS material, Secrets, ConfigMap, Services and StatefulSet, each k8s child through the given provider", async () => {
        const { recorded } = await daemon({});
        assert.deepEqual(
            recorded.map((r) => `${r.type} ${r.name}`).sort(),
            [
                "k3s-buildkit:cluster:BuildkitDaemon buildkitd",
                "k3s-buildkit:cluster:Cluster cluster",
                "k3s-buildkit:index:Platform k3s-buildkit",
                "kubernetes:apps/v1:StatefulSet buildkitd-statefulset",
                "kubernetes:batch/v1:CronJob buildkitd-cache-report",
                "kubernetes:core/v1:ConfigMap buildkitd-config",
                "kubernetes:core/v1:Namespace buildkitd-namespace",
                "kubernetes:core/v1:Secret buildkitd-client-tls",
                "kubernetes:core/v1:Secret buildkitd-registry-auth",
                "kubernetes:core/v1:Secret buildkitd-server-tls",
                "kubernetes:core/v1:Service buildkitd-headless",
                "kubernetes:core/v1:Service buildkitd-service",
                "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitCacheReport buildkitd-cache-usage",
                "pulumi:providers:kubernetes cluster",
                "pulumi-nodejs:dynamic/k3s-buildkit:BuildkitMutualTls buildkitd-tls",
            ].sort(),
        );
        for (const r of recorded.filter((x) => x.type.startsWith("kubernetes:"))) {
            assert.match(r.provider ?? "", /[:$]pulumi:providers:kubernetes::cluster::/, `${r.name} has the explicit provider`);
        }
        const provider = recorded.find((r) => r.type === "pulumi:providers:kubernetes" && r.name === "cluster")!;
        assert.ok(isSecretValue(provider.inputs.kubeconfig), "the kubeconfig is secret");
    });

    it("StatefulSet: image, args, ports, probes, privileged, volumes and mounts (hostPath per pod)", async () => {
        const { sts, c } = await daemon({});
        assert.equal(sts.metadata.name, "buildkitd");
        assert.equal(sts.metadata.namespace, "buildkit");
        assert.equal(c.image, "docker.io/moby/buildkit:v0.33.1");
        assert.deepEqual(c.args, [
            "--addr",
            "unix:///run/buildkit/buildkitd.sock",
            "--addr",
            "tcp://0.0.0.0:1234",
            "--tlscacert",
            "/certs/ca.pem",
            "--tlscert",
            "/certs/cert.pem",
            "--tlskey",
            "/certs/key.pem",
            "--config",
            "/etc/buildkit/buildkitd.toml",
        ]);
        assert.deepEqual(c.ports, [{ name: "buildkitd", containerPort: 1234, protocol: "TCP" }]);
        assert.deepEqual(c.readinessProbe, PROBE);
        assert.deepEqual(c.livenessProbe, PROBE);
        assert.deepEqual(c.securityContext, { privileged: true });
        assert.deepEqual(c.volumeMounts, [
            { name: "state", mountPath: "/var/lib/buildkit", subPathExpr: "$(POD_NAME)" },
            { name: "config", mountPath: "/etc/buildkit", readOnly: true },
            { name: "certs", mountPath: "/certs", readOnly: true },
        ]);
        assert.deepEqual(sts.spec.template.spec.volumes, [
            {
                name: "config",
                configMap: {
                    name: "buildkitd-config",
                    items: [
                        { key: "buildkitd.toml", path: "buildkitd.toml" },
                        { key: "ca-registry.example.com.pem", path: "certs/registry.example.com/ca.pem" },
                    ],
                },
            },
            { name: "certs", secret: { secretName: "buildkitd-server-tls" } },
            { name: "state", hostPath: { path: "/var/lib/k3s-buildkit/buildkitd", type: "DirectoryOrCreate" } },
        ]);
        assert.equal(sts.spec.volumeClaimTemplates, undefined);
        assert.equal(sts.spec.template.spec.initContainers, undefined);
        assert.equal(sts.spec.replicas, 1);
    });

    it("with k3s hosts, the hostPath is under the k3s data dir (works with local-storage disabled)", async () => {
        const { recorded } = await runPlatform(withHosts, ["sshPrivateKey"]);
        const sts = unwrap(get(recorded, "buildkitd-statefulset").inputs) as { spec: StsSpec };
        assert.deepEqual(sts.spec.template.spec.volumes[2], {
            name: "state",
            hostPath: { path: "/data/k3s/buildkitd", type: "DirectoryOrCreate" },
        });
    });

    it("labels match the selector, and both Services select the pods; headless for stable names", async () => {
        const { recorded, sts } = await daemon({});
        assert.deepEqual(sts.spec.selector.matchLabels, sts.spec.template.metadata.labels);
        const svc = unwrap(get(recorded, "buildkitd-service").inputs) as {
            metadata: { name: string };
            spec: { selector: unknown; ports: unknown; type: string };
        };
        const headless = unwrap(get(recorded, "buildkitd-headless").inputs) as {
            metadata: { name: string };
            spec: { selector: unknown; clusterIP: string };
        };
        assert.deepEqual(svc.spec.selector, sts.spec.template.metadata.labels);
        assert.deepEqual(headless.spec.selector, sts.spec.template.metadata.labels);
        assert.equal(svc.spec.type, "ClusterIP");
        assert.deepEqual(svc.spec.ports, [{ name: "buildkitd", port: 1234, targetPort: 1234, protocol: "TCP" }]);
        assert.equal(headless.spec.clusterIP, "None");
        assert.equal(sts.spec.serviceName, headless.metadata.name);
        assert.equal(svc.metadata.name, "buildkitd");
    });

    it("TLS: the server certificate covers the Service names and 127.0.0.1; keys and Secrets are secret", async () => {
        const { recorded, platform } = await daemon({});
        const plan = get(recorded, "buildkitd-tls").inputs.plan as ReturnType<typeof tlsPlan>;
        assert.deepEqual(plan, tlsPlan("buildkit"), "the program's issuer gets the plan (tested in test/cluster/mutual-tls.test.ts)");
        assert.deepEqual(plan.server.sans?.dnsNames, [
            "buildkitd",
            "buildkitd.buildkit",
            "buildkitd.buildkit.svc",
            "buildkitd.buildkit.svc.cluster.local",
            "*.buildkitd-headless.buildkit.svc",
            "*.buildkitd-headless.buildkit.svc.cluster.local",
            "localhost",
        ]);
        assert.deepEqual(plan.server.sans?.ipAddresses, ["127.0.0.1"]);
        assert.deepEqual(plan.server.uses, ["digital_signature", "key_encipherment", "server_auth"]);
        assert.deepEqual(plan.client.uses, ["digital_signature", "key_encipherment", "client_auth"]);
        for (const id of ["server", "client"]) {
            assert.ok(isSecretValue(get(recorded, `buildkitd-${id}-tls`).inputs.stringData), `${id} TLS Secret data is secret`);
        }
        const bundle = await resolve(platform.cluster!.clientTls);
        assert.equal(bundle.secret, true);
        assert.match(bundle.value!.key, /BEGIN PRIVATE KEY/);
        assert.equal(platform.cluster!.kubePodAddress, "kube-pod://buildkitd-0?namespace=buildkit");
        assert.equal(platform.cluster!.serviceAddress, "tcp://buildkitd.buildkit.svc:1234");
    });

    it("registry credentials: a dockerconfigjson Secret, the password secret", async () => {
        const { recorded } = await daemon({});
        const s = get(recorded, "buildkitd-registry-auth").inputs;
        assert.equal(s.type, "kubernetes.io/dockerconfigjson");
        assert.ok(isSecretValue(s.stringData));
        const json = (unwrap(s.stringData) as Record<string, string>)[".dockerconfigjson"];
        assert.deepEqual(JSON.parse(json), {
            auths: { "registry.example.com": { auth: Buffer.from("ci:hunter2").toString("base64") } },
        });
    });

    it("buildkitd.toml in the ConfigMap comes from the hosts' renderer: OCI worker, mirrors, plain HTTP, CA", async () => {
        const { recorded } = await daemon({});
        const data = get(recorded, "buildkitd-config").inputs.data as Record<string, string>;
        assert.deepEqual(JSON.parse(JSON.stringify(smolParse(data["buildkitd.toml"]))), {
            debug: false,
            root: "/var/lib/buildkit",
            // On a node's hostPath the disk is not known here: BuildKit applies the shares at start, under the ceiling.
            worker: {
                oci: { enabled: true, gc: true, reservedSpace: "10%", maxUsedSpace: "100GB", minFreeSpace: "20%" },
                containerd: { enabled: false },
            },
            history: { maxAge: "48h", maxEntries: 50 },
            registry: {
                "10.0.0.9:5000": { http: true },
                "docker.io": { mirrors: ["mirror.example.com"] },
                "registry.example.com": { ca: ["/etc/buildkit/certs/registry.example.com/ca.pem"] },
            },
        });
        assert.equal(data["ca-registry.example.com.pem"], registries["registry.example.com"].ca);
    });

    it("a 50Gi state volume: GC limits derived from it (reserve 5GB, use at most 30GB, keep 10GB free); max-parallelism from the CPU limit", async () => {
        const { recorded } = await daemon({
            cluster: { storageClass: "fast", stateSize: "50Gi", resources: { requests: {}, limits: { cpu: "1500m" } } },
        });
        const toml = (get(recorded, "buildkitd-config").inputs.data as Record<string, string>)["buildkitd.toml"];
        console.log(`# buildkitd.toml for a 50Gi PVC:\n${toml.replace(/^/gm, "#   ")}`);
        const worker = (smolParse(toml) as { worker: { oci: Record<string, unknown> } }).worker.oci;
        assert.deepEqual(
            { ...worker },
            { enabled: true, "max-parallelism": 2, gc: true, reservedSpace: "5GB", maxUsedSpace: "30GB", minFreeSpace: "10GB" },
        );
        const set = await daemon({
            cluster: { storageClass: "fast", stateSize: "50Gi" },
            buildkit: { gc: { maxUsedSpace: "20GB" }, maxParallelism: 4, history: { maxAgeHours: 168, maxEntries: 500 } },
        });
        const toml2 = smolParse((get(set.recorded, "buildkitd-config").inputs.data as Record<string, string>)["buildkitd.toml"]) as {
            worker: { oci: Record<string, unknown> };
            history: Record<string, unknown>;
        };
        assert.deepEqual(
            { ...toml2.worker.oci },
            { enabled: true, "max-parallelism": 4, gc: true, maxUsedSpace: "20GB" },
            "limits set in config are taken as given",
        );
        assert.deepEqual({ ...toml2.history }, { maxAge: "168h", maxEntries: 500 });
    });

    it("a stopping pod waits for its running builds: preStop reads BuildKit's active builds, the grace period covers buildGraceSeconds", async () => {
        const { sts, c } = await daemon({ buildkit: { buildGraceSeconds: 600 } });
        assert.equal(sts.spec.template.spec.terminationGracePeriodSeconds, 630);
        const preStop = (c as unknown as { lifecycle: { preStop: { exec: { command: string[] } } } }).lifecycle.preStop.exec.command;
        assert.deepEqual(preStop.slice(0, 2), ["sh", "-c"]);
        assert.match(preStop[2], /\+ 600\)\)/);
        assert.match(preStop[2], /buildctl --addr unix:\/\/\/run\/buildkit\/buildkitd\.sock debug histories --format '\{\{\.Type\}\}'/);
        const off = await daemon({ buildkit: { buildGraceSeconds: 0 } });
        assert.equal(off.sts.spec.template.spec.terminationGracePeriodSeconds, 30);
        assert.equal((off.c as unknown as { lifecycle?: unknown }).lifecycle, undefined);
    });

    it("a config change changes the pod template (the pods roll); nothing else in the StatefulSet changes", async () => {
        const a = await daemon({});
        const b = await daemon({ registries: { ...registries, "docker.io": { mirrors: ["other.example.com"] } } });
        const annA = a.sts.spec.template.metadata.annotations["k3s-buildkit/config-sha256"];
        const annB = b.sts.spec.template.metadata.annotations["k3s-buildkit/config-sha256"];
        assert.match(annA, /^[0-9a-f]{64}$/);
        assert.notEqual(annA, annB);
        const strip = (x: typeof a.sts) =>
            JSON.stringify({
                ...x,
                spec: { ...x.spec, template: { ...x.spec.template, metadata: { ...x.spec.template.metadata, annotations: {} } } },
            });
        assert.equal(strip(a.sts), strip(b.sts));
    });

    it("a PodDisruptionBudget with two replicas or more (one daemon pod evicted at a time), valid by the OpenAPI schema; none with one", async () => {
        const { recorded } = await daemon({ cluster: { replicas: 3 } });
        const pdb = unwrap(get(recorded, "buildkitd-pdb").inputs) as Record<string, unknown>;
        assert.deepEqual(pdb.spec, {
            maxUnavailable: 1,
            selector: { matchLabels: { "app.kubernetes.io/name": "buildkitd", "app.kubernetes.io/managed-by": "k3s-buildkit" } },
        });
        assert.equal((pdb.metadata as { namespace: string }).namespace, "buildkit");
        const { PodDisruptionBudget } = await import("kubernetes-models/policy/v1");
        const Model = PodDisruptionBudget as unknown as new (o: unknown) => { validate(): void };
        assert.doesNotThrow(() => new Model(pdb).validate());
        const one = await daemon({});
        assert.equal(one.recorded.filter((r) => r.name === "buildkitd-pdb").length, 0);
    });

    it("scheduling and resources from config; a PVC per replica when a storageClass is set", async () => {
        const { sts, c } = await daemon({
            cluster: {
                replicas: 3,
                storageClass: "fast",
                stateSize: "100Gi",
                resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "8Gi" } },
                nodeSelector: { "kubernetes.io/arch": "amd64" },
                tolerations: [{ key: "builders", operator: "Exists", effect: "NoSchedule" }],
                affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
            },
        });
        assert.equal(sts.spec.replicas, 3);
        assert.deepEqual((c as unknown as { resources: unknown }).resources, {
            requests: { cpu: "1", memory: "2Gi" },
            limits: { memory: "8Gi" },
        });
        assert.deepEqual(sts.spec.template.spec.nodeSelector, { "kubernetes.io/arch": "amd64" });
        assert.deepEqual(sts.spec.template.spec.tolerations, [{ key: "builders", operator: "Exists", effect: "NoSchedule" }]);
        assert.deepEqual(sts.spec.volumeClaimTemplates, [
            {
                metadata: { name: "state" },
                spec: { accessModes: ["ReadWriteOnce"], storageClassName: "fast", resources: { requests: { storage: "100Gi" } } },
            },
        ]);
        assert.deepEqual(c.volumeMounts[0], { name: "state", mountPath: "/var/lib/buildkit" });
        assert.equal(sts.spec.template.spec.volumes.length, 2, "no hostPath volume");
    });

    it("cluster.enabled: false creates no provider and no daemon", async () => {
        const { recorded } = await runPlatform({ ...withHosts, cluster: { enabled: false } }, ["sshPrivateKey"]);
        assert.deepEqual(
            recorded.filter(
                (r) => r.type.startsWith("kubernetes:") || r.type.startsWith("tls:") || r.type.includes("providers:kubernetes"),
            ),
            [],
        );
    });

    it("a preview where the kubeconfig is still unknown constructs everything without error", async () => {
        const { recorded } = await runPlatform(withHosts, ["sshPrivateKey"], true);
        assert.ok(recorded.some((r) => r.name === "buildkitd-statefulset"));
        assert.ok(recorded.some((r) => r.name === "cluster"));
    });
});

describe("BuildkitDaemon (rootless)", () => {
    it("the -rootless image, no process sandbox, Unconfined seccomp and AppArmor, uid/gid 1000, fsGroup, rootless state path", async () => {
        const { sts, c } = await daemon({ cluster: { mode: "rootless" } });
        assert.equal(c.image, "docker.io/moby/buildkit:v0.33.1-rootless");
        assert.deepEqual(c.args.slice(0, 2), ["--addr", "unix:///run/user/1000/buildkit/buildkitd.sock"]);
        assert.equal(c.args.at(-1), "--oci-worker-no-process-sandbox");
        assert.deepEqual(c.securityContext, {
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: "Unconfined" },
            appArmorProfile: { type: "Unconfined" },
        });
        assert.deepEqual(sts.spec.template.spec.securityContext, { fsGroup: 1000 });
        assert.deepEqual(c.volumeMounts[0], {
            name: "state",
            mountPath: "/home/user/.local/share/buildkit",
            subPathExpr: "$(POD_NAME)-rootless",
        });
        const init = sts.spec.template.spec.initContainers?.[0] as unknown as { command: string[]; securityContext: unknown };
        assert.deepEqual(init.command, ["sh", "-c", "chown 1000:1000 /home/user/.local/share/buildkit"]);
        assert.deepEqual(init.securityContext, { runAsUser: 0, runAsGroup: 0 });
        assert.deepEqual(c.readinessProbe, PROBE);
    });
});

describe("every manifest validates against the Kubernetes OpenAPI schema", () => {
    for (const mode of ["privileged", "rootless"] as const) {
        for (const storage of [{}, { storageClass: "fast" }]) {
            it(`${mode}${"storageClass" in storage ? " with a PVC" : " with a hostPath"}`, async () => {
                const { recorded } = await daemon({
                    cluster: {
                        mode,
                        ...storage,
                        tolerations: [{ key: "k", operator: "Equal", value: "v", effect: "NoExecute", tolerationSeconds: 60 }],
                    },
                });
                const models = {
                    Namespace: (await import("kubernetes-models/v1")).Namespace,
                    ConfigMap: (await import("kubernetes-models/v1")).ConfigMap,
                    Secret: (await import("kubernetes-models/v1")).Secret,
                    Service: (await import("kubernetes-models/v1")).Service,
                    StatefulSet: (await import("kubernetes-models/apps/v1")).StatefulSet,
                    CronJob: (await import("kubernetes-models/batch/v1")).CronJob,
                } as unknown as Record<string, new (o: unknown) => { validate(): void }>;
                const manifests = recorded.filter((r) => r.type.startsWith("kubernetes:"));
                assert.equal(manifests.length, 9);
                for (const r of manifests) {
                    const m = unwrap(r.inputs) as { kind: string; apiVersion: string };
                    const Model = models[m.kind];
                    assert.ok(Model !== undefined, `no model for ${m.kind}`);
                    assert.doesNotThrow(() => new Model(m).validate(), `${r.name} (${m.apiVersion} ${m.kind}) is valid`);
                }
            });
        }
    }

    it("the validator does reject a broken manifest", async () => {
        const { StatefulSet } = await import("kubernetes-models/apps/v1");
        const { sts } = await daemon({});
        const broken = { apiVersion: "apps/v1", kind: "StatefulSet", ...sts, spec: { ...sts.spec, replicas: "three" } };
        const Model = StatefulSet as unknown as new (o: unknown) => { validate(): void };
        assert.throws(() => new Model(broken).validate(), /replicas must be integer/);
    });
});
