/**
 * The HostBuild provider through the local connection, with buildctl and ctr replaced by FIXTURE
 * scripts on PATH that record what they were given: the context arrives as sent (.dockerignore, modes,
 * hostile names), buildctl gets exactly the rendered argv, progress streams, the digest comes from the
 * metadata, the work directory is gone afterwards; read and delete ask containerd by name.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { contextHash, walkContext } from "../../components/build/context";
import { type HostBuildInputs, type HostBuildOutputs, hostBuildProvider } from "../../components/build/host-build-provider";
import { hostScript } from "../../components/host/scripts";
import { argvParams } from "../../components/build/host-image-build";

const root = mkdtempSync(join(tmpdir(), "hostbuild-"));
const bin = join(root, "bin");
const log = join(root, "log");
const DIGEST = `sha256:${"d1".repeat(32)}`;
let savedPath: string | undefined;

before(() => {
    mkdirSync(bin);
    mkdirSync(log);
    // FIXTURE buildctl: records argv (NUL-separated) and the context it was handed, writes metadata.
    writeFileSync(
        join(bin, "buildctl"),
        `#!/bin/bash
set -eu
printf '%s\\0' "$@" > "${log}/argv"
ctx= meta=
while [ $# -gt 0 ]; do
  case "$1" in
    --local) case "$2" in context=*) ctx=\${2#context=};; esac; shift 2;;
    --metadata-file) meta=$2; shift 2;;
    *) shift;;
  esac
done
(cd "$ctx" && find . -printf '%p %m %y\\n' | sort) > "${log}/context"
[ -z "\${FAIL_BUILD:-}" ] || { echo "#3 ERROR: failed to solve: process did not complete successfully" >&2; exit 1; }
echo "#1 [internal] load build definition" >&2
printf '{"containerimage.digest":"${DIGEST}","image.name":"docker.io/library/dev:1"}' > "$meta"
`,
        { mode: 0o755 },
    );
    // FIXTURE ctr: lists the names in ${log}/images; rm removes one.
    writeFileSync(
        join(bin, "ctr"),
        `#!/bin/bash
echo "$*" >> "${log}/ctr"
[ -z "\${CTR_DOWN:-}" ] || { echo "ctr: failed to dial" >&2; exit 1; }
case "$*" in
  *"images ls -q") cat "${log}/images" 2>/dev/null || true;;
  *"images rm "*) args="$*"; name=\${args##* }; grep -vxF -- "$name" "${log}/images" > "${log}/images.new" || true; mv "${log}/images.new" "${log}/images";;
esac
`,
        { mode: 0o755 },
    );
    savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${process.env.PATH ?? ""}`;
});
after(() => {
    process.env.PATH = savedPath;
    rmSync(root, { recursive: true, force: true });
});

const HOSTILE_ARG = `build-arg:MSG=it's "quoted" $(touch ${root}/pwned) \`touch ${root}/pwned2\``;

function context(): string {
    const dir = mkdtempSync(join(root, "ctx-"));
    writeFileSync(join(dir, "Dockerfile"), "FROM scratch\n");
    writeFileSync(join(dir, "run.sh"), "echo\n");
    chmodSync(join(dir, "run.sh"), 0o755);
    writeFileSync(join(dir, "$(touch pwned3)"), "odd name\n");
    writeFileSync(join(dir, "secret.log"), "ignored\n");
    writeFileSync(join(dir, ".dockerignore"), "*.log\n");
    return dir;
}

function inputs(dir: string, buildDir: string): HostBuildInputs {
    const argv = [
        "--addr",
        "unix:///run/buildkit/buildkitd.sock",
        "build",
        "--local",
        `context=${buildDir}/context`,
        "--local",
        `dockerfile=${buildDir}/context`,
        "--opt",
        HOSTILE_ARG,
        "--metadata-file",
        `${buildDir}/metadata.json`,
    ];
    const common = { CTR_NAMESPACE: "k8s.io", CONTAINERD_ADDRESS: "/run/k3s/containerd/containerd.sock" };
    return {
        target: { kind: "local", sudo: false },
        script: hostScript("host-build", {
            BUILD_DIR: buildDir,
            ...argvParams(argv),
            DOCKERFILE_B64: "",
        }),
        checkScript: hostScript("host-build-check", { ...common, IMAGE_NAME: "docker.io/library/dev:1" }),
        removeScript: hostScript("host-build-remove", { ...common, IMAGE_NAMES: "docker.io/library/dev:1\ndocker.io/library/dev:latest" }),
        contextDir: dir,
        contextHash: contextHash(walkContext(dir)),
        images: ["docker.io/library/dev:1"],
        providerVersion: "1",
    };
}

describe("HostBuild provider (local connection, fixture buildctl and ctr)", () => {
    it("sends the context, runs buildctl with exactly the rendered argv, streams progress, returns the digest, cleans up", async () => {
        const dir = context();
        const buildDir = join(root, "work", "host-builds", "dev");
        const i = inputs(dir, buildDir);
        const progress: string[] = [];
        const write = process.stderr.write.bind(process.stderr);
        process.stderr.write = (chunk: string) => (progress.push(String(chunk)), true);
        let created;
        try {
            created = await hostBuildProvider.create(i);
        } finally {
            process.stderr.write = write;
        }
        assert.equal(created.id, "local:docker.io/library/dev:1");
        assert.deepEqual((({ digest, ref, names, present }) => ({ digest, ref, names, present }))(created.outs as HostBuildOutputs), {
            digest: DIGEST,
            ref: `docker.io/library/dev@${DIGEST}`,
            names: ["docker.io/library/dev:1"],
            present: true,
        });
        assert.deepEqual(readFileSync(join(log, "argv"), "utf8").split("\0").slice(0, -1)[8], HOSTILE_ARG);
        assert.equal(
            readFileSync(join(log, "context"), "utf8"),
            [". 755 d", "./$(touch pwned3) 644 f", "./.dockerignore 644 f", "./Dockerfile 644 f", "./run.sh 755 f", ""].join("\n"),
        );
        assert.ok(progress.join("").includes("[local] #1 [internal] load build definition"), progress.join(""));
        assert.equal(existsSync(buildDir), false, "the work directory is removed");
        assert.equal(existsSync(join(root, "work", "host-builds")), false, "and its parent when empty");
        for (const f of ["pwned", "pwned2", "pwned3"])
            assert.equal(existsSync(join(root, f)) || existsSync(join(process.cwd(), f)), false, f);
    });

    it("a failing build fails with the tail of its output; a context changed since the program ran is refused", async () => {
        const dir = context();
        const i = inputs(dir, join(root, "work2", "dev"));
        process.env.FAIL_BUILD = "1";
        try {
            await assert.rejects(
                hostBuildProvider.create(i),
                /^TransportError: local: host image build failed with exit code 1:\n(?:.|\n)*#3 ERROR: failed to solve: process did not complete successfully$/,
            );
        } finally {
            delete process.env.FAIL_BUILD;
        }
        writeFileSync(join(dir, "run.sh"), "echo changed\n");
        await assert.rejects(hostBuildProvider.create(i), /changed after the program read it .*; run pulumi up again/);
    });

    it("read reports the image present, gone (drift), or keeps the state when containerd cannot be asked; delete removes its names", async () => {
        const dir = context();
        const i = inputs(dir, join(root, "work3", "dev"));
        const outs = { ...i, digest: DIGEST, ref: `docker.io/library/dev@${DIGEST}`, names: ["docker.io/library/dev:1"], present: true };
        writeFileSync(join(log, "images"), "docker.io/library/dev:1\ndocker.io/library/other:2\n");
        assert.equal(((await hostBuildProvider.read!("id", outs)).props as HostBuildOutputs).present, true);
        writeFileSync(join(log, "images"), "docker.io/library/other:2\n");
        const gone = (await hostBuildProvider.read!("id", outs)).props as HostBuildOutputs;
        assert.equal(gone.present, false);
        assert.deepEqual(await hostBuildProvider.diff!("id", gone, i), { changes: true, replaces: [] });
        assert.deepEqual(await hostBuildProvider.diff!("id", outs, i), { changes: false, replaces: [] });
        process.env.CTR_DOWN = "1";
        try {
            assert.equal(
                ((await hostBuildProvider.read!("id", gone)).props as HostBuildOutputs).present,
                false,
                "unknown: the recorded state stays",
            );
            assert.equal(
                ((await hostBuildProvider.read!("id", outs)).props as HostBuildOutputs).present,
                true,
                "unknown: the recorded state stays",
            );
        } finally {
            delete process.env.CTR_DOWN;
        }
        writeFileSync(join(log, "images"), "docker.io/library/dev:1\ndocker.io/library/dev:latest\ndocker.io/library/other:2\n");
        await hostBuildProvider.delete!("id", outs);
        assert.equal(readFileSync(join(log, "images"), "utf8"), "docker.io/library/other:2\n", "only this build's names are removed");
    });
});
