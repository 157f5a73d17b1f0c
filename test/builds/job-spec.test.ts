/**
 * Build Job specs: the exact pod (volumes, secrets, TLS mounts, command), the content-addressed name
 * (changes if and only if the build's definition changes), and the replica pick.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildctlArgs } from "../../components/builds/buildctl";
import {
    contextFiles,
    definitionHash,
    gitContextUrl,
    jobBuildctl,
    jobCommand,
    jobName,
    jobSpec,
    replicaIndex,
} from "../../components/builds/job-spec";
import { parseConfig, type ResolvedConfig } from "../../components/config";

/** A build as the config parser resolves it (defaults applied), with the given registries. */
function parsed(
    build: Record<string, unknown>,
    registries: Record<string, unknown> = {},
    extra: Record<string, unknown> = {},
): ResolvedConfig {
    const values: Record<string, string> = {
        hosts: JSON.stringify([{ name: "local", connection: "local" }]),
        builds: JSON.stringify([build]),
        registries: JSON.stringify(registries),
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, JSON.stringify(v)])),
    };
    const r = parseConfig({ values, secretKeys: new Set(Object.keys(extra)) }, { runningAsRoot: true });
    assert.deepEqual(r.issues, []);
    return r.config as ResolvedConfig;
}
const buildOf = (b: Record<string, unknown>) => parsed(b).builds[0];

const HEREDOC = `FROM debian
RUN <<EOT
mkdir /hl
echo hl > /hl/yani
EOT
COPY <<-EOT /app/script.sh
\techo hello \${FOO}
EOT
`;
const inline = {
    name: "hello",
    context: { files: { Dockerfile: HEREDOC, "app/main.sh": "echo hi\n" } },
    tags: ["registry.dev:5000/hello:1"],
};

describe("build Job spec", () => {
    it("an inline here-document build: exact pod spec with TLS, registry auth and context mounts, non-root, no TTL", () => {
        const c = parsed(inline, { "registry.dev:5000": { http: true } });
        const b = c.builds[0];
        const spec = jobSpec({
            build: b,
            registries: c.registries,
            namespace: "buildkit",
            replicas: 1,
            image: "docker.io/moby/buildkit:v0.33.1",
            clientTlsSecretName: "buildkitd-client-tls",
            registryAuthSecretName: "buildkitd-registry-auth",
            contextConfigMapName: `${jobName(b)}-context`,
        });
        const argv = buildctlArgs(jobBuildctl(b, c.registries, "buildkit", 0));
        assert.deepEqual(argv, [
            "--addr",
            "tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234",
            "--tlscacert",
            "/run/buildkit-client/ca.pem",
            "--tlscert",
            "/run/buildkit-client/cert.pem",
            "--tlskey",
            "/run/buildkit-client/key.pem",
            "build",
            "--progress",
            "plain",
            "--frontend",
            "dockerfile.v0",
            "--local",
            "context=/workspace/context",
            "--local",
            "dockerfile=/workspace/context",
            "--output",
            "type=image,name=registry.dev:5000/hello:1,push=true,registry.insecure=true",
            "--export-cache",
            "type=registry,ref=registry.dev:5000/hello:buildcache,mode=max,ignore-error=true,registry.insecure=true",
            "--import-cache",
            "type=registry,ref=registry.dev:5000/hello:buildcache,registry.insecure=true",
            "--metadata-file",
            "/tmp/metadata.json",
        ]);
        assert.deepEqual(spec, {
            backoffLimit: 1,
            activeDeadlineSeconds: 1800,
            template: {
                metadata: {
                    labels: {
                        "app.kubernetes.io/name": "image-build",
                        "app.kubernetes.io/instance": "hello",
                        "app.kubernetes.io/managed-by": "k3s-buildkit",
                    },
                },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: {
                        runAsNonRoot: true,
                        runAsUser: 1000,
                        runAsGroup: 1000,
                        fsGroup: 1000,
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                        {
                            name: "buildctl",
                            image: "docker.io/moby/buildkit:v0.33.1",
                            command: [
                                "/bin/sh",
                                "-c",
                                'buildctl "$@" && cat /tmp/metadata.json > /dev/termination-log',
                                "buildctl",
                                ...argv,
                            ],
                            env: [
                                { name: "DOCKER_CONFIG", value: "/run/docker-config" },
                                { name: "HOME", value: "/tmp" },
                            ],
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                readOnlyRootFilesystem: true,
                                capabilities: { drop: ["ALL"] },
                            },
                            terminationMessagePath: "/dev/termination-log",
                            terminationMessagePolicy: "FallbackToLogsOnError",
                            volumeMounts: [
                                { name: "client-tls", mountPath: "/run/buildkit-client", readOnly: true },
                                { name: "docker-config", mountPath: "/run/docker-config", readOnly: true },
                                { name: "tmp", mountPath: "/tmp" },
                                { name: "context", mountPath: "/workspace/context", readOnly: true },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "client-tls", secret: { secretName: "buildkitd-client-tls", defaultMode: 0o440 } },
                        {
                            name: "docker-config",
                            secret: {
                                secretName: "buildkitd-registry-auth",
                                items: [{ key: ".dockerconfigjson", path: "config.json" }],
                                defaultMode: 0o440,
                            },
                        },
                        { name: "tmp", emptyDir: {} },
                        {
                            name: "context",
                            configMap: {
                                name: `${jobName(b)}-context`,
                                items: [
                                    { key: "f0", path: "Dockerfile" },
                                    { key: "f1", path: "app/main.sh" },
                                ],
                            },
                        },
                    ],
                },
            },
        });
        assert.deepEqual(contextFiles(b).data, { f0: HEREDOC, f1: "echo hi\n" });
        assert.ok(!HEREDOC.includes("# syntax="), "here-documents need no syntax line (the built-in frontend handles them)");
    });

    it("git context with a token, build secrets, an inline Dockerfile, exports and a local cache: their volumes and mounts", () => {
        const c = parsed(
            {
                name: "api",
                context: {
                    git: "https://git.example.com/team/app.git",
                    ref: "4f2a9c1e0b7d3a5f6e8d9c0b1a2f3e4d5c6b7a89",
                    subdir: "services/api",
                    gitTokenSecret: "gh",
                },
                dockerfileInline: "FROM alpine\n",
                secrets: ["npm"],
                tags: ["r.example.com/api:1"],
                exports: [{ type: "oci", claimName: "artifacts", path: "api.tar" }],
                cache: { type: "local", claimName: "build-cache" },
            },
            {},
            { buildSecrets: { gh: "t0ken", npm: "n" } },
        );
        const b = c.builds[0];
        const spec = jobSpec({
            build: b,
            registries: {},
            namespace: "ci",
            replicas: 1,
            image: "img",
            clientTlsSecretName: "tls",
            registryAuthSecretName: "auth",
            contextConfigMapName: "cm",
            secretsSecretName: "sec",
        });
        const pod = (spec.template as { spec: unknown }).spec as {
            volumes: unknown[];
            containers: { volumeMounts: unknown[]; command: string[] }[];
        };
        assert.deepEqual(pod.volumes.slice(3), [
            { name: "dockerfile", configMap: { name: "cm", items: [{ key: "Dockerfile", path: "Dockerfile" }] } },
            {
                name: "build-secrets",
                secret: {
                    secretName: "sec",
                    items: [
                        { key: "gh", path: "gh" },
                        { key: "npm", path: "npm" },
                    ],
                    defaultMode: 0o440,
                },
            },
            { name: "export-0", persistentVolumeClaim: { claimName: "artifacts" } },
            { name: "cache", persistentVolumeClaim: { claimName: "build-cache" } },
        ]);
        assert.deepEqual(pod.containers[0].volumeMounts.slice(3), [
            { name: "dockerfile", mountPath: "/workspace/dockerfile", readOnly: true },
            { name: "build-secrets", mountPath: "/run/build-secrets", readOnly: true },
            { name: "export-0", mountPath: "/exports/0" },
            { name: "cache", mountPath: "/cache" },
        ]);
        const argv = pod.containers[0].command.slice(4);
        const pairs = (flag: string) => argv.flatMap((a, i) => (argv[i - 1] === flag ? [a] : []));
        assert.deepEqual(pairs("--opt"), [
            "context=https://git.example.com/team/app.git#4f2a9c1e0b7d3a5f6e8d9c0b1a2f3e4d5c6b7a89:services/api",
        ]);
        assert.deepEqual(pairs("--local"), ["dockerfile=/workspace/dockerfile"]);
        assert.deepEqual(pairs("--secret"), ["id=GIT_AUTH_TOKEN,src=/run/build-secrets/gh", "id=npm,src=/run/build-secrets/npm"]);
        assert.deepEqual(pairs("--output"), [
            "type=image,name=r.example.com/api:1,push=true",
            "type=oci,dest=/exports/0/api.tar,name=r.example.com/api:1",
        ]);
        assert.deepEqual(pairs("--export-cache"), ["type=local,dest=/cache/api,mode=max,ignore-error=true"]);
        assert.ok(!JSON.stringify(spec).includes("t0ken"), "secret values never enter the Job spec");
    });

    it("git context URL forms", () => {
        assert.equal(gitContextUrl({ git: "https://h/r.git" }), "https://h/r.git");
        assert.equal(gitContextUrl({ git: "https://h/r.git", ref: "main" }), "https://h/r.git#main");
        assert.equal(gitContextUrl({ git: "https://h/r.git", subdir: "a/b" }), "https://h/r.git#:a/b");
    });

    it("the metadata reaches the termination message through argv, never through interpolation", () => {
        assert.deepEqual(jobCommand(["--opt", "build-arg:A=$(id)"]), [
            "/bin/sh",
            "-c",
            'buildctl "$@" && cat /tmp/metadata.json > /dev/termination-log',
            "buildctl",
            "--opt",
            "build-arg:A=$(id)",
        ]);
    });
});

describe("build Job name", () => {
    const base = {
        name: "app",
        context: { git: "https://git.example.com/app.git", ref: "v1" },
        tags: ["r.example.com/app:1"],
        buildArgs: { A: "1", B: "2" },
        platforms: ["linux/amd64"],
    };
    const name = (b: Record<string, unknown>) => jobName(buildOf(b));

    it("is build-<name>-<10 hex> and stable for the same inputs", () => {
        assert.match(name(base), /^build-app-[0-9a-f]{10}$/);
        assert.equal(name(base), name(structuredClone(base)));
    });
    it("changes when any defining input changes", () => {
        const variants: [string, Record<string, unknown>][] = [
            ["git ref", { context: { ...base.context, ref: "v2" } }],
            ["subdir", { context: { ...base.context, subdir: "x" } }],
            ["dockerfile", { dockerfile: "Dockerfile.prod" }],
            ["inline Dockerfile", { dockerfileInline: "FROM scratch" }],
            ["target", { target: "prod" }],
            ["build arg value", { buildArgs: { A: "1", B: "3" } }],
            ["platforms", { platforms: ["linux/amd64", "linux/arm64"] }],
            ["tags", { tags: ["r.example.com/app:2"] }],
            ["push", { push: false, cache: { type: "none" } }],
            ["cache", { cache: { type: "none" } }],
            ["cache manifest", { cache: { imageManifest: true } }],
            ["exports", { exports: [{ type: "tar", claimName: "out", path: "a.tar" }] }],
            ["trigger", { trigger: "rotate-2026-11" }],
            ["name", { name: "app2" }],
        ];
        const seen = new Map<string, string>([[definitionHash(buildOf(base)), "base"]]);
        for (const [what, change] of variants) {
            const h = definitionHash(buildOf({ ...base, ...change }));
            assert.ok(!seen.has(h), `${what} must change the hash (same as ${seen.get(h)})`);
            seen.set(h, what);
        }
    });
    it("does not change for what cannot affect the result: map key order, retries, deadline", () => {
        assert.equal(name({ ...base, buildArgs: { B: "2", A: "1" } }), name(base));
        assert.equal(name({ ...base, backoffLimit: 4, timeoutMinutes: 90 }), name(base));
        const files = (o: Record<string, string>) => name({ ...base, context: { files: o } });
        assert.equal(files({ Dockerfile: "FROM a", "b.txt": "b" }), files({ "b.txt": "b", Dockerfile: "FROM a" }));
    });
    it("the replica pick is fixed per build and spreads builds over replicas", () => {
        const counts = [0, 0, 0];
        for (let i = 0; i < 300; i++) {
            const h = definitionHash(buildOf({ ...base, name: `app-${i}` }));
            assert.equal(replicaIndex(h, 3), replicaIndex(h, 3));
            counts[replicaIndex(h, 3)]++;
        }
        assert.ok(
            counts.every((n) => n > 60),
            `spread over 3 replicas: ${counts.join("/")}`,
        );
        assert.equal(replicaIndex("ffffffff", 1), 0);
    });
});
