/**
 * The local connection (`connection: local`: the machine that runs Pulumi) against real systemd.
 * The test process itself has no systemd, so the cases in local-connection.inside.ts run on a booted
 * test machine with this repository bound at /repo: once as root, once as a sudo user.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { bootMachine, type Machine } from "../harness/machine";

let m: Machine;
before(async () => {
    m = await bootMachine("k3sbk-local", { bindRepo: true });
});
after(async () => {
    await m?.stop();
});

const run = (user: "root" | "builder") =>
    m.exec(
        `cd /repo && ${user === "root" ? "" : "runuser -u builder -- "}env K3SBK_INSIDE_MACHINE=1 HOME=/tmp /usr/local/bin/node --import tsx --test test/host/local-connection.inside.ts 2>&1 || { echo "inner tests failed"; exit 1; }`,
    );

describe("local connection on a real systemd host", () => {
    for (const user of ["root", "builder"] as const) {
        it(`passes the HostFile and SystemdService cases as ${user}`, async () => {
            const out = await run(user).catch((e: Error) => e.message);
            assert.match(out, /^# pass 3$/m, out);
            assert.match(out, /^# fail 0$/m, out);
        });
    }
});
