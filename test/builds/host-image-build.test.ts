/** Host builds' pure parts: image names as containerd stores them, and the buildctl build a host runs. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildctlArgs } from "../../components/builds/buildctl";
import { hostBuildctl, normalizeImageName } from "../../components/host/host-image-build";
import { parseConfig, type ResolvedConfig } from "../../components/config";

function hostBuild(b: Record<string, unknown>, registries: Record<string, unknown> = {}): ResolvedConfig {
    const r = parseConfig(
        {
            values: {
                hosts: JSON.stringify([{ name: "local", connection: "local" }]),
                hostBuilds: JSON.stringify([b]),
                registries: JSON.stringify(registries),
                buildSecrets: JSON.stringify({ npm: "x" }),
            },
            secretKeys: new Set(["buildSecrets"]),
        },
        { runningAsRoot: true },
    );
    assert.deepEqual(r.issues, []);
    return r.config as ResolvedConfig;
}

describe("host builds", () => {
    it("names as containerd stores them", () => {
        assert.equal(normalizeImageName("app"), "docker.io/library/app:latest");
        assert.equal(normalizeImageName("app:dev"), "docker.io/library/app:dev");
        assert.equal(normalizeImageName("team/app:1"), "docker.io/team/app:1");
        assert.equal(normalizeImageName("docker.io/app:1"), "docker.io/library/app:1");
        assert.equal(normalizeImageName("10.0.0.9:5000/team/app"), "10.0.0.9:5000/team/app:latest");
        assert.equal(normalizeImageName("localhost/app:1"), "localhost/app:1");
    });
    it("a git context with an inline Dockerfile, a secret from the environment, a push to a plain-HTTP registry", () => {
        const c = hostBuild(
            {
                name: "api",
                context: { git: "https://git.example.com/api.git", ref: "v2" },
                dockerfileInline: "FROM alpine",
                secrets: ["npm"],
                tags: ["10.0.0.9:5000/api:2"],
                push: true,
            },
            { "10.0.0.9:5000": { http: true } },
        );
        assert.deepEqual(buildctlArgs(hostBuildctl(c.hostBuilds[0], c.registries)), [
            "--addr",
            "unix:///run/buildkit/buildkitd.sock",
            "build",
            "--progress",
            "plain",
            "--frontend",
            "dockerfile.v0",
            "--opt",
            "context=https://git.example.com/api.git#v2",
            "--local",
            "dockerfile=/var/lib/k3s-buildkit/host-builds/api/dockerfile",
            "--secret",
            "id=npm,env=K3S_BUILDKIT_SECRET_6e706d",
            "--output",
            "type=image,name=10.0.0.9:5000/api:2,push=true,registry.insecure=true,unpack=true",
            "--metadata-file",
            "/var/lib/k3s-buildkit/host-builds/api/metadata.json",
        ]);
    });
});
