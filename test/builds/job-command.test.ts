/**
 * The build Job's container command, run by a real POSIX shell on the test machine (the buildkit image
 * runs it with busybox sh; here Debian's dash) with a FIXTURE buildctl: argv arrives intact, hostile
 * values included, the metadata reaches the termination-message file only when the build succeeded,
 * and a failed build exits non-zero with the termination message left empty (Kubernetes then fills it
 * with the log tail: FallbackToLogsOnError).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jobCommand } from "../../components/builds/job-spec";
import { shellWords } from "../../components/render/shell";
import { bootMachine, type Machine } from "../harness/machine";

const FIXTURE_BUILDCTL = `#!/bin/sh
# FIXTURE buildctl: records argv, fails when /tmp/fail exists, else writes the metadata file.
printf '%s\\0' "$@" > /tmp/argv
[ ! -e /tmp/fail ] || { echo "#5 ERROR: exit code: 2" >&2; exit 1; }
while [ $# -gt 0 ]; do [ "$1" = --metadata-file ] && meta=$2; shift; done
printf '{"containerimage.digest":"sha256:%064d","image.name":"r/a:1"}' 7 > "$meta"
`;

let m: Machine;
before(async () => {
    m = await bootMachine("k3sbk-job");
    await m.exec(`printf '%s' ${shellWords([FIXTURE_BUILDCTL])} > /usr/local/bin/buildctl && chmod 755 /usr/local/bin/buildctl`);
});
after(async () => m?.stop());

const argv = [
    "build",
    "--opt",
    `build-arg:A=it's "q" $(touch /tmp/pwned) \`touch /tmp/pwned2\``,
    "--opt",
    "build-arg:B=a b\nc",
    "--metadata-file",
    "/tmp/metadata.json",
];

describe("build Job command under a real shell", () => {
    it("passes argv intact and copies the metadata to the termination message on success", async () => {
        await m.exec("rm -f /tmp/fail /tmp/argv /tmp/metadata.json; : > /dev/termination-log");
        await m.exec(shellWords(jobCommand(argv)));
        assert.deepEqual((await m.exec("cat /tmp/argv")).split("\0").slice(0, -1), argv);
        assert.equal(
            await m.exec("cat /dev/termination-log"),
            `{"containerimage.digest":"sha256:${"0".repeat(63)}7","image.name":"r/a:1"}`,
        );
        assert.equal(await m.exec("ls /tmp/pwned /tmp/pwned2 2>/dev/null || true"), "");
    });
    it("a failed build exits non-zero and leaves the termination message empty", async () => {
        await m.exec("touch /tmp/fail; rm -f /tmp/metadata.json; : > /dev/termination-log");
        await assert.rejects(m.exec(shellWords(jobCommand(argv))));
        assert.equal(await m.exec("cat /dev/termination-log"), "");
    });
});
