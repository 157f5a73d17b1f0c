/**
 * The HostBuild provider through the local connection, with buildctl and ctr replaced by FIXTURE
 * scripts on PATH that record what they were given: the context arrives as sent (.dockerignore, modes,
 * hostile names), buildctl gets exactly the rendered argv, progress streams, the digest comes from the
 * metadata, the work directory is gone afterwards; read and delete ask containerd by name. This is the
 * script's own logic, fast; what BuildKit and containerd themselves do (tag-only naming, the namespace
 * copy, CRI's view) is checked against the real ones in test/real-host/ (single-server, buildkit).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { contextHash, walkContext } from "../../components/builds/context";
import { type HostBuildInputs, type HostBuildOutputs, hostBuildProvider } from "../../components/host/host-build-provider";
import { hostScript } from "../../components/host/scripts";
import { argvParams } from "../../components/host/host-image-build";

const root = mkdtempSync(join(tmpdir(), "hostbuild-"));
const bin = join(root, "bin");
const log = join(root, "log");
const DIGEST = `sha256:${"d1".repeat(32)}`;
let savedPath: string | undefined;

before(() => {
    mkdirSync(bin);
    mkdirSync(log);
    // FIXTURE buildctl: records argv (NUL-separated), the context it was handed and the docker config
    // it could read, then, as BuildKit's image exporter does, names the image in containerd by its tags
    // only (no digest reference), and writes metadata. The digest is $FIXTURE_DIGEST or DIGEST.
    writeFileSync(
        join(bin, "buildctl"),
        `#!/bin/bash
set -eu
printf '%s\\0' "$@" > "${log}/argv"
ctx= meta= names=
while [ $# -gt 0 ]; do
  case "$1" in
    --local) case "$2" in context=*) ctx=\${2#context=};; esac; shift 2;;
    --metadata-file) meta=$2; shift 2;;
    --output) names=$(sed -n 's/.*"name=\\([^"]*\\)".*/\\1/p; t; s/.*name=\\([^,]*\\).*/\\1/p' <<<"$2"); shift 2;;
    *) shift;;
  esac
done
(cd "$ctx" && find . -printf '%p %m %y\\n' | sort) > "${log}/context"
if [ -n "\${DOCKER_CONFIG:-}" ]; then stat -c '%a' "$DOCKER_CONFIG/config.json" > "${log}/docker-config-mode"; cat "$DOCKER_CONFIG/config.json" > "${log}/docker-config"; echo "$DOCKER_CONFIG" > "${log}/docker-config-dir"; fi
[ -z "\${FAIL_BUILD:-}" ] || { echo "#3 ERROR: failed to solve: process did not complete successfully" >&2; exit 1; }
echo "#1 [internal] load build definition" >&2
digest=\${FIXTURE_DIGEST:-${DIGEST}}
for n in \${names//,/ }; do ctr -n k8s.io images add-fixture "$n" "$digest"; done
printf '{"containerimage.digest":"%s","image.name":"%s"}' "$digest" "$names" > "$meta"
`,
        { mode: 0o755 },
    );
    // FIXTURE ctr: containerd's image store as files, one per namespace (name, target digest, labels),
    // with the commands the host-build scripts use: images ls [-q], rm, tag [--force], label; add-fixture (the test's and the buildctl fixture's way in) creates or moves a name, as
    // BuildKit's image exporter does for a tag it builds again. CTR_DOWN makes it fail like an unreachable containerd.
    writeFileSync(
        join(bin, "ctr"),
        `#!/bin/bash
set -eu
echo "$*" >> "${log}/ctr"
[ -z "\${CTR_DOWN:-}" ] || { echo "ctr: failed to dial" >&2; exit 1; }
ns=default
while [ $# -gt 0 ]; do case "$1" in --address) shift 2;; -n) ns=$2; shift 2;; *) break;; esac; done
store="${log}/store-$ns"; touch "$store"
[ "$1" = images ] || { echo "ctr fixture: only images" >&2; exit 1; }
shift; cmd=$1; shift
row() { awk -F'\\t' -v n="$1" '$1 == n' "$store"; }
case "$cmd" in
  ls) if [ "\${1:-}" = -q ]; then cut -f1 "$store"; else echo "REF TYPE DIGEST SIZE PLATFORMS LABELS"; awk -F'\\t' '{ print $1, "application/vnd.oci.image.manifest.v1+json", $2, "1.0 KiB", "linux/amd64", ($3 == "" ? "-" : $3) }' "$store"; fi;;
  rm) [ -n "$(row "$1")" ] || { echo "ctr: image \\"$1\\": not found" >&2; exit 1; }; awk -F'\\t' -v n="$1" '$1 != n' "$store" > "$store.new"; mv "$store.new" "$store";;
  tag) force=; if [ "$1" = --force ]; then force=1; shift; fi
       src=$(row "$1"); [ -n "$src" ] || { echo "ctr: image \\"$1\\": not found" >&2; exit 1; }
       if [ -n "$(row "$2")" ]; then [ -n "$force" ] || { echo "ctr: image \\"$2\\": already exists" >&2; exit 1; }; awk -F'\\t' -v n="$2" '$1 != n' "$store" > "$store.new"; mv "$store.new" "$store"; fi
       printf '%s\\t%s\\t\\n' "$2" "$(cut -f2 <<<"$src")" >> "$store"; echo "$2";;
  label) [ -n "$(row "$1")" ] || { echo "ctr: image \\"$1\\": not found" >&2; exit 1; }
       awk -F'\\t' -v OFS='\\t' -v n="$1" -v l="$2" '$1 == n { $3 = ($3 == "" ? l : $3 "," l) } 1' "$store" > "$store.new"; mv "$store.new" "$store";;
  add-fixture) awk -F'\\t' -v n="$1" '$1 != n' "$store" > "$store.new"; mv "$store.new" "$store"; printf '%s\\t%s\\t\\n' "$1" "$2" >> "$store";;
  *) echo "ctr fixture: images $cmd is not modelled" >&2; exit 1;;
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

function inputs(dir: string, buildDir: string, o: { dockerConfig?: string; namespace?: string; keep?: number } = {}): HostBuildInputs {
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
        "--output",
        'type=image,"name=docker.io/library/dev:1,docker.io/library/dev:latest",push=false,unpack=true',
        "--metadata-file",
        `${buildDir}/metadata.json`,
    ];
    const state = join(buildDir, "..", "dev.digests");
    const names = "docker.io/library/dev:1\ndocker.io/library/dev:latest";
    const common = { CONTAINERD_ADDRESS: "/run/k3s/containerd/containerd.sock", STATE_FILE: state };
    return {
        target: { kind: "local", sudo: false },
        script: hostScript("host-build", {
            BUILD_DIR: buildDir,
            ...argvParams(argv),
            DOCKERFILE_B64: "",
            DOCKER_CONFIG_B64: o.dockerConfig === undefined ? "" : Buffer.from(o.dockerConfig).toString("base64"),
            BUILD_NAMESPACE: o.namespace ?? "k8s.io",
            IMAGE_NAMES: names,
            REPOSITORIES: "docker.io/library/dev",
            KEEP: o.keep ?? 2,
            ...common,
        }),
        checkScript: hostScript("host-build-check", {
            ...common,
            IMAGE_NAME: "docker.io/library/dev:1",
            REPOSITORY: "docker.io/library/dev",
        }),
        removeScript: hostScript("host-build-remove", {
            ...common,
            BUILD_NAMESPACE: o.namespace ?? "k8s.io",
            IMAGE_NAMES: names,
            REPOSITORIES: "docker.io/library/dev",
        }),
        contextDir: dir,
        contextHash: contextHash(walkContext(dir)),
        images: ["docker.io/library/dev:1"],
        providerVersion: "1",
    };
}

/** The fixture's image store in namespace `ns`: name → "digest labels". */
function store(ns = "k8s.io"): Record<string, string> {
    const file = join(log, `store-${ns}`);
    if (!existsSync(file)) return {};
    return Object.fromEntries(
        readFileSync(file, "utf8")
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => {
                const [name, digest, labels] = l.split("\t");
                return [name, `${digest}${labels === "" ? "" : ` ${labels}`}`];
            }),
    );
}
const reset = () => {
    for (const ns of ["k8s.io", "buildkit"]) rmSync(join(log, `store-${ns}`), { force: true });
    for (const f of ["docker-config", "docker-config-mode", "docker-config-dir"]) rmSync(join(log, f), { force: true });
};
const quiet = async <T>(f: () => Promise<T>): Promise<T> => {
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = () => true;
    try {
        return await f();
    } finally {
        process.stderr.write = write;
    }
};
const PINNED = "io.cri-containerd.pinned=pinned";

describe("HostBuild provider (local connection, fixture buildctl and ctr)", () => {
    it("sends the context, runs buildctl with exactly the rendered argv, streams progress, returns the digest, cleans up", async () => {
        reset();
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
            names: ["docker.io/library/dev:1", "docker.io/library/dev:latest"],
            present: true,
        });
        assert.deepEqual(readFileSync(join(log, "argv"), "utf8").split("\0").slice(0, -1)[8], HOSTILE_ARG);
        assert.equal(
            readFileSync(join(log, "context"), "utf8"),
            [". 755 d", "./$(touch pwned3) 644 f", "./.dockerignore 644 f", "./Dockerfile 644 f", "./run.sh 755 f", ""].join("\n"),
        );
        assert.ok(progress.join("").includes("[local] #1 [internal] load build definition"), progress.join(""));
        assert.equal(existsSync(buildDir), false, "the work directory is removed");
        assert.equal(readFileSync(join(root, "work", "host-builds", "dev.digests"), "utf8"), `${DIGEST}\n`, "the digest is recorded");
        for (const f of ["pwned", "pwned2", "pwned3"])
            assert.equal(existsSync(join(root, f)) || existsSync(join(process.cwd(), f)), false, f);
    });

    it("names the image by repo@digest beside its tags in the CRI namespace, all pinned; keeps the last KEEP digests", async () => {
        reset();
        const dir = context();
        const i = inputs(dir, join(root, "keep", "dev"), { keep: 2 });
        const digests = ["a1", "b2", "c3"].map((x) => `sha256:${x.repeat(32)}`);
        for (const d of digests) {
            process.env.FIXTURE_DIGEST = d;
            try {
                await quiet(() => hostBuildProvider.create(i));
            } finally {
                delete process.env.FIXTURE_DIGEST;
            }
        }
        // BuildKit named the image by tag only; the script added the digest references and the labels.
        assert.deepEqual(store(), {
            "docker.io/library/dev:1": `${digests[2]} ${PINNED}`,
            "docker.io/library/dev:latest": `${digests[2]} ${PINNED}`,
            [`docker.io/library/dev@${digests[1]}`]: `${digests[1]} ${PINNED}`,
            [`docker.io/library/dev@${digests[2]}`]: `${digests[2]} ${PINNED}`,
        });
        assert.equal(readFileSync(join(root, "keep", "dev.digests"), "utf8"), `${digests[1]}\n${digests[2]}\n`);
    });

    it("a build with registry credentials gets them as a 0600 docker config.json in its private work dir, gone afterwards, also on failure", async () => {
        reset();
        const dir = context();
        const config = JSON.stringify({ auths: { "registry.example.com": { auth: Buffer.from("bot:s3cret").toString("base64") } } });
        const buildDir = join(root, "creds", "dev");
        const i = inputs(dir, buildDir, { dockerConfig: config });
        await quiet(() => hostBuildProvider.create(i));
        assert.equal(readFileSync(join(log, "docker-config"), "utf8"), config);
        assert.equal(readFileSync(join(log, "docker-config-mode"), "utf8"), "600\n");
        assert.equal(readFileSync(join(log, "docker-config-dir"), "utf8"), `${buildDir}/docker\n`);
        assert.equal(existsSync(buildDir), false);
        process.env.FAIL_BUILD = "1";
        try {
            await assert.rejects(quiet(() => hostBuildProvider.create(i)));
        } finally {
            delete process.env.FAIL_BUILD;
        }
        assert.equal(existsSync(buildDir), false, "removed after a failed build too");
    });

    it("a failing build fails with the tail of its output; a context changed since the program ran is refused", async () => {
        reset();
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

    it("read reports the image present only with its tag and digest reference, gone (drift), or keeps the state when containerd cannot be asked", async () => {
        reset();
        const dir = context();
        const i = inputs(dir, join(root, "work3", "dev"));
        const outs = (await quiet(() => hostBuildProvider.create(i))).outs as HostBuildOutputs;
        assert.equal(((await hostBuildProvider.read!("id", outs)).props as HostBuildOutputs).present, true);
        execFileSync("ctr", ["-n", "k8s.io", "images", "rm", `docker.io/library/dev@${DIGEST}`], { env: process.env });
        const gone = (await hostBuildProvider.read!("id", outs)).props as HostBuildOutputs;
        assert.equal(gone.present, false, "the digest reference pods run is gone");
        assert.deepEqual(await hostBuildProvider.diff!("id", gone, i), { changes: true, replaces: [] });
        assert.deepEqual(await hostBuildProvider.diff!("id", outs, i), { changes: false, replaces: [] });
        process.env.CTR_DOWN = "1";
        try {
            assert.equal(((await hostBuildProvider.read!("id", gone)).props as HostBuildOutputs).present, false, "unknown: kept");
            assert.equal(((await hostBuildProvider.read!("id", outs)).props as HostBuildOutputs).present, true, "unknown: kept");
        } finally {
            delete process.env.CTR_DOWN;
        }
    });

    it("delete removes its names, every digest reference it made and CRI's bare sha256 name for them; nothing of others", async () => {
        reset();
        const dir = context();
        const i = inputs(dir, join(root, "work4", "dev"), { keep: 3 });
        const older = `sha256:${"e5".repeat(32)}`;
        process.env.FIXTURE_DIGEST = older;
        await quiet(() => hostBuildProvider.create(i));
        delete process.env.FIXTURE_DIGEST;
        const outs = (await quiet(() => hostBuildProvider.create(i))).outs as HostBuildOutputs;
        // What containerd's CRI adds for images it manages (their image ID), and an image that is not ours.
        const ctr = (...a: string[]) => execFileSync("ctr", ["-n", "k8s.io", "images", ...a], { env: process.env });
        ctr("add-fixture", `sha256:${"cf".repeat(32)}`, DIGEST);
        ctr("add-fixture", `sha256:${"0e".repeat(32)}`, older);
        ctr("add-fixture", "docker.io/library/other:2", `sha256:${"99".repeat(32)}`);
        ctr("add-fixture", `sha256:${"9c".repeat(32)}`, `sha256:${"99".repeat(32)}`);
        await hostBuildProvider.delete!("id", outs);
        assert.deepEqual(store(), {
            "docker.io/library/other:2": `sha256:${"99".repeat(32)}`,
            [`sha256:${"9c".repeat(32)}`]: `sha256:${"99".repeat(32)}`,
        });
        assert.equal(existsSync(join(root, "work4", "dev.digests")), false);
        assert.equal(existsSync(join(root, "work4")), false, "the state directory goes once empty");
    });
});
