/**
 * buildctl argument rendering, exact: every option, and each command form of seeds 001 and 003.
 * Rendered command lines are read back by real bash to prove the quoting keeps argv intact.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { buildctlArgs, csvField, hygieneArgs, imageRefFromMetadata, repositoryOf } from "../../components/builds/buildctl";
import { shellWords } from "../../components/render/shell";

const local = { kind: "local", dir: ".", dockerfileDir: "." } as const;
const head = ["build", "--progress", "plain", "--frontend", "dockerfile.v0"];
const line = (argv: string[]) => `buildctl ${shellWords(argv)}`;

/** argv as bash reads the rendered line back. */
function bashArgv(rendered: string): string[] {
    const out = execFileSync("bash", ["-c", `args() { printf '%s\\0' "$@"; }; ${rendered.replace(/^buildctl /, "args ")}`]);
    return out.toString("utf8").split("\0").slice(0, -1);
}

describe("buildctl: the seed forms", () => {
    const cases: [string, Parameters<typeof buildctlArgs>[0], string][] = [
        [
            "seed 001: build into the worker's image store",
            { context: local, outputs: [{ type: "image", names: ["ccr.ccs.tencentyun.com/v_cjweichen/nwx-reg:buildctl"], push: false }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=image,name=ccr.ccs.tencentyun.com/v_cjweichen/nwx-reg:buildctl,push=false",
        ],
        [
            "seed 001: build and push",
            { context: local, outputs: [{ type: "image", names: ["ccr.ccs.tencentyun.com/v_cjweichen/nwx-reg:buildctl"], push: true }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=image,name=ccr.ccs.tencentyun.com/v_cjweichen/nwx-reg:buildctl,push=true",
        ],
        [
            "seed 003 §2: target and build-arg, pushed",
            {
                context: local,
                target: "foo",
                buildArgs: { foo: "bar" },
                outputs: [{ type: "image", names: ["docker.io/username/image"], push: true }],
            },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --opt target=foo --opt build-arg:foo=bar --output type=image,name=docker.io/username/image,push=true",
        ],
        [
            "seed 003 §3: export to a local directory",
            { context: local, outputs: [{ type: "local", dest: "./a" }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=local,dest=./a",
        ],
        [
            "seed 003 §4: docker tarball",
            { context: local, outputs: [{ type: "docker", dest: "./a.tar", name: "tmp:1.0.0" }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=docker,dest=./a.tar,name=tmp:1.0.0",
        ],
        [
            "seed 003 §6: OCI tarball (the seed writes name=./a.tar; the file goes in dest)",
            { context: local, outputs: [{ type: "oci", dest: "./a.tar" }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=oci,dest=./a.tar",
        ],
        [
            "seed 003: plain tar of the filesystem",
            { context: local, outputs: [{ type: "tar", dest: "./fs.tar" }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=tar,dest=./fs.tar",
        ],
        [
            "seed 003 §7: multi-platform",
            { context: local, platforms: ["linux/amd64", "linux/arm64"], outputs: [{ type: "image", names: ["tmp:1.0.0"], push: false }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --opt platform=linux/amd64,linux/arm64 --output type=image,name=tmp:1.0.0,push=false",
        ],
        [
            "seed 003: push to the plain-HTTP registry 192.168.0.127:5000",
            { context: local, outputs: [{ type: "image", names: ["192.168.0.127:5000/tmp/test:1.0.0"], push: true, insecure: true }] },
            "buildctl build --progress plain --frontend dockerfile.v0 --local context=. --local dockerfile=. --output type=image,name=192.168.0.127:5000/tmp/test:1.0.0,push=true,registry.insecure=true",
        ],
    ];
    for (const [name, build, expected] of cases) {
        it(name, () => {
            const argv = buildctlArgs(build);
            assert.equal(line(argv), expected);
            assert.deepEqual(bashArgv(line(argv)), argv);
        });
    }
    it("seed 003 §8/§9: du -v and prune, against the host socket and over TLS", () => {
        assert.deepEqual(hygieneArgs({ addr: "unix:///run/buildkit/buildkitd.sock" }), {
            du: ["--addr", "unix:///run/buildkit/buildkitd.sock", "du", "-v"],
            prune: ["--addr", "unix:///run/buildkit/buildkitd.sock", "prune", "--keep-duration", "168h"],
        });
        assert.deepEqual(hygieneArgs({ addr: "tcp://127.0.0.1:1234", tls: { ca: "ca.pem", cert: "cert.pem", key: "key.pem" } }).du, [
            "--addr",
            "tcp://127.0.0.1:1234",
            "--tlscacert",
            "ca.pem",
            "--tlscert",
            "cert.pem",
            "--tlskey",
            "key.pem",
            "du",
            "-v",
        ]);
    });
});

describe("buildctl: every option", () => {
    const image = { type: "image", names: ["r.example.com/app:1"], push: true } as const;
    it("connection with mutual TLS and a server name comes before the command", () => {
        const argv = buildctlArgs({
            connection: {
                addr: "tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234",
                tls: { ca: "/c/ca.pem", cert: "/c/cert.pem", key: "/c/key.pem", serverName: "buildkitd" },
            },
            context: local,
            outputs: [image],
        });
        assert.deepEqual(argv.slice(0, 11), [
            "--addr",
            "tcp://buildkitd-0.buildkitd-headless.buildkit.svc:1234",
            "--tlsservername",
            "buildkitd",
            "--tlscacert",
            "/c/ca.pem",
            "--tlscert",
            "/c/cert.pem",
            "--tlskey",
            "/c/key.pem",
            "build",
        ]);
    });
    it("a remote git context with an inline Dockerfile directory, a Dockerfile path, sorted build args, secrets, metadata", () => {
        const argv = buildctlArgs({
            context: { kind: "remote", url: "https://git.example.com/app.git#v1.2:services/api", dockerfileDir: "/w/dockerfile" },
            dockerfile: "docker/Dockerfile.prod",
            buildArgs: { Z: "last", A: "has space", M: "x=y" },
            secrets: [
                { id: "npm", src: "/run/s/npm" },
                { id: "GIT_AUTH_TOKEN", env: "TOKEN" },
            ],
            outputs: [image],
            metadataFile: "/tmp/metadata.json",
            noCache: true,
        });
        assert.deepEqual(argv, [
            ...head,
            "--opt",
            "context=https://git.example.com/app.git#v1.2:services/api",
            "--local",
            "dockerfile=/w/dockerfile",
            "--opt",
            "filename=docker/Dockerfile.prod",
            "--opt",
            "build-arg:A=has space",
            "--opt",
            "build-arg:M=x=y",
            "--opt",
            "build-arg:Z=last",
            "--secret",
            "id=GIT_AUTH_TOKEN,env=TOKEN",
            "--secret",
            "id=npm,src=/run/s/npm",
            "--output",
            "type=image,name=r.example.com/app:1,push=true",
            "--no-cache",
            "--metadata-file",
            "/tmp/metadata.json",
        ]);
        assert.deepEqual(bashArgv(line(argv)), argv);
    });
    it("several tags are one CSV field; extra exports follow the image output; unpack for host builds", () => {
        const argv = buildctlArgs({
            context: local,
            outputs: [
                { type: "image", names: ["r/a:1", "r/a:latest"], push: false, unpack: true },
                { type: "oci", dest: "/exports/0/app.tar", name: "r/a:1" },
            ],
        });
        assert.deepEqual(argv.slice(-4), [
            "--output",
            'type=image,"name=r/a:1,r/a:latest",push=false,unpack=true',
            "--output",
            "type=oci,dest=/exports/0/app.tar,name=r/a:1",
        ]);
        assert.deepEqual(bashArgv(line(argv)), argv);
    });
    it("cache: registry (mode=max, ignore-error), with image-manifest for registries that refuse cache manifests, insecure", () => {
        const args = (imageManifest: boolean, insecure: boolean) =>
            buildctlArgs({
                context: local,
                outputs: [image],
                cache: { type: "registry", ref: "r/app:buildcache", imageManifest, insecure },
            }).slice(-4);
        assert.deepEqual(args(false, false), [
            "--export-cache",
            "type=registry,ref=r/app:buildcache,mode=max,ignore-error=true",
            "--import-cache",
            "type=registry,ref=r/app:buildcache",
        ]);
        assert.deepEqual(args(true, true), [
            "--export-cache",
            "type=registry,ref=r/app:buildcache,mode=max,ignore-error=true,image-manifest=true,oci-mediatypes=true,registry.insecure=true",
            "--import-cache",
            "type=registry,ref=r/app:buildcache,registry.insecure=true",
        ]);
    });
    it("cache: inline, local, none", () => {
        const tail = (cache: Parameters<typeof buildctlArgs>[0]["cache"]) =>
            buildctlArgs({ context: local, outputs: [image], cache }).slice(-4);
        assert.deepEqual(tail({ type: "inline", from: "r/app:1", insecure: false }), [
            "--export-cache",
            "type=inline",
            "--import-cache",
            "type=registry,ref=r/app:1",
        ]);
        assert.deepEqual(tail({ type: "local", dir: "/cache/app" }), [
            "--export-cache",
            "type=local,dest=/cache/app,mode=max,ignore-error=true",
            "--import-cache",
            "type=local,src=/cache/app",
        ]);
        assert.deepEqual(
            buildctlArgs({ context: local, outputs: [image], cache: { type: "none" } }),
            buildctlArgs({ context: local, outputs: [image] }),
        );
        assert.ok(!buildctlArgs({ context: local, outputs: [image], cache: { type: "none" } }).some((a) => a.endsWith("-cache")));
    });
    it("hostile values stay single arguments: CSV-quoted inside options, shell-quoted on the line", () => {
        const evil = `x",push=false,name=evil'; touch /tmp/pwned; echo "`;
        assert.equal(csvField(`dest=${evil}`), `"dest=x"",push=false,name=evil'; touch /tmp/pwned; echo """`);
        const argv = buildctlArgs({ context: local, buildArgs: { A: "$(touch /tmp/pwned)" }, outputs: [{ type: "local", dest: evil }] });
        assert.deepEqual(bashArgv(line(argv)), argv);
    });
});

describe("buildctl: the digest from metadata", () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    it("name@digest from the first name, tag stripped (registry ports kept)", () => {
        assert.deepEqual(
            imageRefFromMetadata({ "containerimage.digest": digest, "image.name": "reg:5000/team/app:1.0,reg:5000/team/app:latest" }),
            {
                digest,
                ref: `reg:5000/team/app@${digest}`,
                names: ["reg:5000/team/app:1.0", "reg:5000/team/app:latest"],
            },
        );
        assert.equal(repositoryOf("reg:5000/app"), "reg:5000/app");
        assert.equal(repositoryOf("app@sha256:00"), "app");
    });
    it("metadata without a digest or a name is an error, never a made-up reference", () => {
        assert.throws(() => imageRefFromMetadata({ "image.name": "a:1" }), /has no containerimage.digest/);
        assert.throws(
            () => imageRefFromMetadata({ "containerimage.digest": "sha256:short", "image.name": "a:1" }),
            /has no containerimage.digest/,
        );
        assert.throws(() => imageRefFromMetadata({ "containerimage.digest": digest }), /has no image.name/);
    });
});
