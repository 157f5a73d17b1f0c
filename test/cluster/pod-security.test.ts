/**
 * Pod Security admission: the standard's controls as a table of checks (components/cluster/pod-security.ts),
 * each level tried on pods that break exactly one control; the daemon's namespace labels admit what its pods
 * need in both modes; build Job pods meet "restricted"; a certificate renewal rolls the daemon.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jobSpec } from "../../components/builds/job-spec";
import { namespaceRefusal, podSecurityLevel, podSecurityViolations } from "../../components/cluster/pod-security";
import { diffRuns, fakeNamespaces, isSecretValue, namespacesRead, type RecordedWithDeps, runPlatform } from "../../tools/evaluate";

const restrictedPod = {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
    containers: [
        {
            name: "app",
            image: "app",
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
    ],
    volumes: [{ name: "cfg", configMap: { name: "c" } }],
};
const withContainerSec = (sec: object) => ({
    ...restrictedPod,
    containers: [{ ...restrictedPod.containers[0], securityContext: { ...restrictedPod.containers[0].securityContext, ...sec } }],
});

describe("Pod Security Standards, control by control", () => {
    const cases: [string, object, "privileged" | "baseline" | "restricted"][] = [
        ["a restricted pod", restrictedPod, "restricted"],
        ["a plain pod (no securityContext)", { containers: [{ name: "a", image: "a" }] }, "baseline"],
        ["allowPrivilegeEscalation unset", withContainerSec({ allowPrivilegeEscalation: undefined }), "baseline"],
        ["runAsUser 0", withContainerSec({ runAsUser: 0 }), "baseline"],
        [
            "capability NET_BIND_SERVICE added",
            withContainerSec({ capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } }),
            "restricted",
        ],
        ["capability CHOWN added", withContainerSec({ capabilities: { drop: ["ALL"], add: ["CHOWN"] } }), "baseline"],
        ["emptyDir volume", { ...restrictedPod, volumes: [{ name: "t", emptyDir: {} }] }, "restricted"],
        ["nfs volume", { ...restrictedPod, volumes: [{ name: "n", nfs: { server: "s", path: "/" } }] }, "baseline"],
        ["privileged container", withContainerSec({ privileged: true }), "privileged"],
        ["hostPath volume", { ...restrictedPod, volumes: [{ name: "h", hostPath: { path: "/var" } }] }, "privileged"],
        ["hostNetwork", { ...restrictedPod, hostNetwork: true }, "privileged"],
        ["seccomp Unconfined", withContainerSec({ seccompProfile: { type: "Unconfined" } }), "privileged"],
        ["AppArmor Unconfined", withContainerSec({ appArmorProfile: { type: "Unconfined" } }), "privileged"],
        ["capability SYS_ADMIN", withContainerSec({ capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] } }), "privileged"],
        [
            "hostPort",
            { ...restrictedPod, containers: [{ ...restrictedPod.containers[0], ports: [{ containerPort: 80, hostPort: 80 }] }] },
            "privileged",
        ],
        [
            "unsafe sysctl",
            { ...restrictedPod, securityContext: { ...restrictedPod.securityContext, sysctls: [{ name: "kernel.msgmax", value: "1" }] } },
            "privileged",
        ],
        // A user namespace (hostUsers: false) relaxes runAsNonRoot/runAsUser and baseline's procMount, as
        // kube-apiserver 1.35 does (checked against the real server in test/kube/api-server.test.ts).
        [
            "runAsUser 0 in a user namespace",
            { ...withContainerSec({ runAsUser: 0 }), hostUsers: false, securityContext: { seccompProfile: { type: "RuntimeDefault" } } },
            "restricted",
        ],
        ["procMount Unmasked in a user namespace", { ...withContainerSec({ procMount: "Unmasked" }), hostUsers: false }, "baseline"],
    ];
    for (const [what, spec, level] of cases) it(`${what} → ${level}`, () => assert.equal(podSecurityLevel(spec), level));
    it("says which control a pod breaks", () => {
        assert.deepEqual(podSecurityViolations(withContainerSec({ privileged: true }), "baseline"), ["baseline: privileged container app"]);
    });
});

const byo = { kubeconfig: "apiVersion: v1\nkind: Config\n" };
const find = (rs: RecordedWithDeps[], type: string, name: string) => rs.find((r) => r.type === type && r.name === name)!;
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? (v as { value: unknown }).value : v);

describe("the daemon's namespace admits its pods; build Jobs are restricted", () => {
    for (const mode of ["privileged", "rootless"] as const) {
        for (const storageClass of [undefined, "fast"]) {
            it(`${mode}${storageClass === undefined ? " with hostPath state" : " with a PVC"}: enforce, warn and audit at the level its pods need`, async () => {
                const { recorded } = await runPlatform(
                    { ...byo, cluster: { mode, ...(storageClass === undefined ? {} : { storageClass }) } },
                    ["kubeconfig"],
                );
                const ns = find(recorded, "kubernetes:core/v1:Namespace", "buildkitd-namespace").inputs as {
                    metadata: { labels: Record<string, string> };
                };
                const sts = unwrap(find(recorded, "kubernetes:apps/v1:StatefulSet", "buildkitd-statefulset").inputs) as {
                    spec: { template: { spec: object } };
                };
                const level = podSecurityLevel(sts.spec.template.spec);
                assert.equal(level, "privileged", "both modes are outside baseline today (privileged; or Unconfined seccomp/AppArmor)");
                assert.deepEqual(ns.metadata.labels, {
                    "pod-security.kubernetes.io/enforce": level,
                    "pod-security.kubernetes.io/warn": level,
                    "pod-security.kubernetes.io/audit": level,
                });
            });
        }
    }

    it("a build Job's pod meets restricted", () => {
        const spec = jobSpec({
            build: {
                name: "app",
                context: { files: { Dockerfile: "FROM scratch\n" } },
                dockerfile: "Dockerfile",
                buildArgs: {},
                platforms: [],
                secrets: ["npm"],
                tags: ["registry.example.com/app:1"],
                push: true,
                exports: [],
                cache: { type: "registry", imageManifest: false },
                backoffLimit: 1,
                timeoutMinutes: 30,
            },
            registries: {},
            namespace: "buildkit",
            replicas: 1,
            image: "moby/buildkit:v0.33.1",
            clientTlsSecretName: "c",
            registryAuthSecretName: "r",
            contextConfigMapName: "ctx",
            secretsSecretName: "s",
        } as unknown as Parameters<typeof jobSpec>[0]);
        const pod = (spec.template as { spec: object }).spec;
        assert.deepEqual(podSecurityViolations(pod, "restricted"), []);
    });
});

describe("a brought-along cluster whose namespace would refuse the daemon", () => {
    const enforce = (level: string) => ({ "pod-security.kubernetes.io/enforce": level });

    it("an existing namespace stricter than the pods need is refused, naming the key and the label; equal, looser or unlabelled is fine", () => {
        assert.equal(
            namespaceRefusal("buildkit", enforce("baseline"), "privileged"),
            'cluster.namespace: namespace "buildkit" already exists in this cluster with pod-security.kubernetes.io/enforce=baseline, ' +
                'which refuses the buildkitd pods (their spec needs "privileged"). Label it for them ' +
                "(kubectl label --overwrite namespace buildkit pod-security.kubernetes.io/enforce=privileged), or set cluster.namespace to a namespace of their own.",
        );
        assert.match(String(namespaceRefusal("b", enforce("restricted"), "baseline")), /enforce=restricted, which refuses/);
        for (const labels of [enforce("privileged"), {}, { "pod-security.kubernetes.io/warn": "restricted" }] as Record<string, string>[]) {
            assert.equal(namespaceRefusal("b", labels, "privileged"), undefined, JSON.stringify(labels));
        }
        assert.equal(namespaceRefusal("b", enforce("baseline"), "restricted"), undefined);
    });

    it("a brought-along cluster's namespace is checked before the Namespace is registered (an installed cluster's is not)", async () => {
        fakeNamespaces.set("buildkit", enforce("privileged"));
        namespacesRead.length = 0;
        try {
            const { recorded } = await runPlatform({ ...byo, cluster: { namespace: "buildkit" } }, ["kubeconfig"], true);
            assert.deepEqual(namespacesRead, ["buildkit"]);
            assert.deepEqual(
                (find(recorded, "kubernetes:core/v1:Namespace", "buildkitd-namespace").inputs as { metadata: { labels: object } }).metadata
                    .labels,
                {
                    ...enforce("privileged"),
                    "pod-security.kubernetes.io/warn": "privileged",
                    "pod-security.kubernetes.io/audit": "privileged",
                },
            );
            namespacesRead.length = 0;
            await runPlatform({ sshPrivateKey: "k", hosts: [{ name: "s1", address: "10.0.0.5" }] }, ["sshPrivateKey"], true);
            assert.deepEqual(namespacesRead, [], "the namespace of a cluster this program installed is its own");
        } finally {
            fakeNamespaces.clear();
        }
    });
});

describe("certificate rotation", () => {
    it("a renewed certificate changes the daemon's pod template (so it rolls) and its TLS Secrets, nothing else of the daemon", async () => {
        const run = async (serial: string) => {
            process.env.K3SBK_FAKE_CERT_SERIAL = serial;
            try {
                return (await runPlatform({ ...byo }, ["kubeconfig"])).recorded;
            } finally {
                delete process.env.K3SBK_FAKE_CERT_SERIAL;
            }
        };
        const a = await run("");
        const b = await run("-renewed");
        // (A renewal changes the issuer's outputs only: its inputs, the plan, stay the same.)
        assert.deepEqual(diffRuns(a, b).changed, ["buildkitd-client-tls", "buildkitd-server-tls", "buildkitd-statefulset"]);
        const template = (rs: RecordedWithDeps[]) =>
            (
                unwrap(find(rs, "kubernetes:apps/v1:StatefulSet", "buildkitd-statefulset").inputs) as {
                    spec: { template: { metadata: { annotations: Record<string, string> } } };
                }
            ).spec.template;
        const [ta, tb] = [template(a), template(b)];
        assert.notEqual(ta.metadata.annotations["k3s-buildkit/tls-sha256"], tb.metadata.annotations["k3s-buildkit/tls-sha256"]);
        assert.deepEqual(
            { ...tb, metadata: { ...tb.metadata, annotations: { ...tb.metadata.annotations, "k3s-buildkit/tls-sha256": "" } } },
            {
                ...ta,
                metadata: { ...ta.metadata, annotations: { ...ta.metadata.annotations, "k3s-buildkit/tls-sha256": "" } },
            },
        );
    });
});
