/**
 * Host build contexts on a real directory: `.dockerignore`, modes, symlinks, empty directories decide
 * the content hash; the tar we send is read back by GNU tar with the same entries.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
    chmodSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    readlinkSync,
    rmSync,
    statSync,
    symlinkSync,
    utimesSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { contextHash, inlineEntries, isIgnored, parseDockerignore, tarEntries, walkContext } from "../../components/builds/context";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "ctx-"));
    dirs.push(dir);
    for (const [path, content] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), content);
    }
    return dir;
}
const hashOf = (dir: string) => contextHash(walkContext(dir));
const paths = (dir: string) => walkContext(dir).map((e) => e.path);

describe(".dockerignore", () => {
    it("Docker's rules: comments, *, **, ?, leading /, directories exclude their contents, ! re-includes, last match wins", () => {
        const p = parseDockerignore(
            [
                "# comment",
                "",
                "*.log",
                "/build",
                "**/node_modules",
                "docs/**/*.md",
                "!docs/keep/README.md",
                "tmp?",
                "secret.txt",
                "!secret.txt",
                "secret.txt",
            ].join("\n"),
        );
        const ignored = (path: string) => isIgnored(p, path);
        assert.equal(ignored("app.log"), true);
        assert.equal(ignored("src/app.log"), false, "* stays in one segment");
        assert.equal(ignored("build/out/a.o"), true, "a matched directory excludes what is under it");
        assert.equal(ignored("src/build"), false, "leading / anchors at the root");
        assert.equal(ignored("node_modules/x/index.js"), true);
        assert.equal(ignored("a/b/node_modules/y.js"), true, "** spans segments");
        assert.equal(ignored("docs/a/b/c.md"), true);
        assert.equal(ignored("docs/keep/README.md"), false, "! re-includes");
        assert.equal(ignored("tmp1"), true);
        assert.equal(ignored("tmp12"), false);
        assert.equal(ignored("secret.txt"), true, "the last matching pattern wins");
        assert.equal(ignored("Dockerfile"), false);
    });
    it("ignored files neither enter the context nor change its hash", () => {
        const dir = tree({
            Dockerfile: "FROM scratch\n",
            ".dockerignore": "*.log\nnode_modules\n",
            "app.log": "1",
            "node_modules/m/index.js": "x",
            "src/main.go": "package main\n",
        });
        assert.deepEqual(paths(dir), [".dockerignore", "Dockerfile", "src", "src/main.go"]);
        const before = hashOf(dir);
        writeFileSync(join(dir, "app.log"), "2");
        writeFileSync(join(dir, "node_modules/m/index.js"), "y");
        assert.equal(hashOf(dir), before);
        writeFileSync(join(dir, "src/main.go"), "package main // changed\n");
        assert.notEqual(hashOf(dir), before);
    });
    it("a file re-included below an ignored directory is found", () => {
        const dir = tree({
            ".dockerignore": "vendor\n!vendor/keep.txt\n",
            "vendor/keep.txt": "k",
            "vendor/drop.txt": "d",
            Dockerfile: "FROM scratch",
        });
        assert.deepEqual(paths(dir), [".dockerignore", "Dockerfile", "vendor/keep.txt"]);
    });
});

describe("context hash", () => {
    it("modes count: chmod +x changes it; mtimes do not", () => {
        const dir = tree({ "run.sh": "echo hi\n", Dockerfile: "FROM scratch" });
        chmodSync(join(dir, "run.sh"), 0o644);
        const before = hashOf(dir);
        utimesSync(join(dir, "run.sh"), new Date(0), new Date(0));
        assert.equal(hashOf(dir), before);
        chmodSync(join(dir, "run.sh"), 0o755);
        assert.notEqual(hashOf(dir), before);
    });
    it("symlinks are recorded as links (not followed); a new target changes the hash", () => {
        const dir = tree({ "a.txt": "a", "b.txt": "b" });
        symlinkSync("a.txt", join(dir, "link"));
        const entry = walkContext(dir).find((e) => e.path === "link");
        assert.deepEqual({ type: entry?.type, linkTarget: entry?.linkTarget }, { type: "symlink", linkTarget: "a.txt" });
        const before = hashOf(dir);
        rmSync(join(dir, "link"));
        symlinkSync("b.txt", join(dir, "link"));
        assert.notEqual(hashOf(dir), before);
    });
    it("empty directories count", () => {
        const dir = tree({ Dockerfile: "FROM scratch" });
        const before = hashOf(dir);
        mkdirSync(join(dir, "data"));
        assert.notEqual(hashOf(dir), before);
        assert.deepEqual(paths(dir), ["Dockerfile", "data"]);
    });
    it("a file turned into a directory of the same name changes it", () => {
        const a = tree({ x: "" });
        const b = tree({});
        mkdirSync(join(b, "x"));
        assert.notEqual(hashOf(a), hashOf(b));
    });
    it("inline files hash like the same files on disk", () => {
        const dir = tree({ Dockerfile: "FROM scratch\n", "app/run.sh": "echo\n" });
        chmodSync(join(dir, "app"), 0o755);
        chmodSync(join(dir, "Dockerfile"), 0o644);
        chmodSync(join(dir, "app/run.sh"), 0o644);
        assert.equal(contextHash(inlineEntries({ "app/run.sh": "echo\n", Dockerfile: "FROM scratch\n" })), hashOf(dir));
    });
});

describe("context tar", () => {
    it("GNU tar extracts exactly the entries, with modes, links, empty dirs and long paths; bytes are deterministic", () => {
        const long = `${"d".repeat(60)}/${"e".repeat(60)}/file-with-a-long-name.txt`;
        const dir = tree({ "run.sh": "#!/bin/sh\necho hi\n", [long]: "deep", ".dockerignore": "*.log\n", "x.log": "no" });
        chmodSync(join(dir, "run.sh"), 0o755);
        mkdirSync(join(dir, "empty"));
        symlinkSync("run.sh", join(dir, "start"));
        const tar = tarEntries(walkContext(dir));
        assert.deepEqual(tarEntries(walkContext(dir)), tar);
        const out = mkdtempSync(join(tmpdir(), "untar-"));
        dirs.push(out);
        execFileSync("tar", ["-x", "-C", out, "--no-same-owner"], { input: tar });
        assert.deepEqual(paths(out), paths(dir));
        assert.equal(hashOf(out), hashOf(dir));
        assert.equal(statSync(join(out, "run.sh")).mode & 0o777, 0o755);
        assert.equal(readlinkSync(join(out, "start")), "run.sh");
        assert.equal(readFileSync(join(out, long), "utf8"), "deep");
        const listing = execFileSync("tar", ["-tv"], { input: tar }).toString();
        assert.match(listing, /root\/root|0\/0/);
    });
});
