/**
 * The drift-detecting HostFile and SystemdService providers against a real OpenSSH server and real
 * systemd: a Debian machine booted with systemd-nspawn (test/harness/machine.ts), reached on
 * 127.0.0.1 with keys generated for this run. Every case drives the provider exactly as the Pulumi
 * engine would: check → create → read → diff → update → delete.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { TransportTarget } from "../../components/host/runner";
import { type HostFileInputs, sha256Hex } from "../../components/host/host-file-provider";
import type { SystemdServiceInputs } from "../../components/host/host-service-provider";
import { closeSshPool, MAX_CHANNELS, runScript, sshPool } from "../../components/host/transport";
import { bootMachine, generateKey, type Machine } from "../harness/machine";
import { fileProvider, serviceProvider } from "./provider-driver";

const HOSTILE = `it's "quoted" $(touch /tmp/pwned-content) \`touch /tmp/pwned-bt\`; rm -rf /nonexistent\n* ? [a] ~ 中文 ✓\n\ttabbed`;

let m: Machine;

before(async () => {
    m = await bootMachine("k3sbk-ssh");
});
after(async () => {
    await m?.stop();
});

function fileInputs(target: TransportTarget, path: string, content: string, mode = "0644"): HostFileInputs {
    return { target, path, content, mode, owner: "root", group: "root", providerVersion: "1" };
}

async function statFile(path: string): Promise<string> {
    return (await m.exec(`stat -c '%a %U %G' -- ${path}`)).trim();
}

describe("HostFile over real SSH", () => {
    for (const user of ["root", "builder"] as const) {
        it(`full lifecycle as ${user}${user === "builder" ? " (through sudo)" : ""}: create, unchanged read, drift, repair, delete`, async () => {
            const f = fileProvider();
            const path = `/etc/k3sbk-test/${user}/app.conf`;
            const inputs = fileInputs(m.target(user), path, HOSTILE, "0640");

            const created = await f.create(inputs);
            assert.equal(created.id, `${user}@127.0.0.1:${m.port}:${path}`);
            assert.equal(await m.exec(`cat -- ${path}`), HOSTILE);
            assert.equal(await statFile(path), "640 root root");
            assert.equal(await m.exec("ls /tmp/pwned-content /tmp/pwned-bt 2>/dev/null || true"), "");

            const unchanged = await f.read(created.id, created.outs);
            assert.deepEqual(unchanged.props, created.outs);
            assert.deepEqual(await f.diff(created.id, unchanged.props, inputs), {
                changes: false,
                replaces: [],
                deleteBeforeReplace: true,
            });

            await m.exec(`echo 'hand edit' >> ${path}; chmod 0666 ${path}`);
            const drifted = await f.read(created.id, unchanged.props);
            assert.equal(drifted.props.present, true);
            assert.equal(drifted.props.sha256, sha256Hex(`${HOSTILE}hand edit\n`));
            assert.equal(drifted.props.mode, "0666");
            const d = await f.diff(created.id, drifted.props, inputs);
            assert.equal(d.changes, true);
            assert.deepEqual(d.replaces, []);

            const repaired = await f.update(created.id, drifted.props, inputs);
            assert.equal(await m.exec(`cat -- ${path}`), HOSTILE);
            assert.equal(await statFile(path), "640 root root");
            assert.deepEqual((await f.read(created.id, repaired.outs)).props, created.outs);

            await m.exec(`rm -- ${path}`);
            const gone = await f.read(created.id, repaired.outs);
            assert.equal(gone.props.present, false);
            assert.equal((await f.diff(created.id, gone.props, inputs)).changes, true);
            await f.update(created.id, gone.props, inputs);
            assert.equal(await m.exec(`cat -- ${path}`), HOSTILE);

            await m.exec(`echo keep > /etc/k3sbk-test/${user}/neighbour`);
            await f.delete(created.id, repaired.outs);
            assert.equal(await m.exec(`ls -A /etc/k3sbk-test/${user}`), "neighbour\n", "delete removes exactly that file");
            assert.equal(await m.exec(`ls -A /etc/k3sbk-test/${user} | grep -c k3s-buildkit || true`), "0\n", "no temp file left");
        });
    }

    it("delete also removes the directories the file's first write created, and only those", async () => {
        const f = fileProvider();
        await m.exec("mkdir -p /etc/k3sbk-pre");
        const created = await f.create(fileInputs(m.target("builder"), "/etc/k3sbk-pre/new/deeper/x.conf", "x"));
        assert.deepEqual(created.outs.createdDirs, ["/etc/k3sbk-pre/new", "/etc/k3sbk-pre/new/deeper"]);
        await f.delete(created.id, created.outs);
        assert.equal(await m.exec("ls -A /etc/k3sbk-pre"), "", "created dirs removed");
        assert.equal(await m.exec("test -d /etc/k3sbk-pre && echo kept"), "kept\n", "a pre-existing dir is kept");
    });

    it("never puts a parameter or secret on a command line: every SSH command is the fixed runner", async () => {
        const secret = "s3cr3t-token-value-that-must-not-leak";
        const f = fileProvider();
        const path = "/etc/k3sbk-test/secret.env";
        const inputs = fileInputs(m.target("builder"), path, `TOKEN=${secret}\n`, "0600");
        const created = await f.create(inputs);
        await f.read(created.id, created.outs);
        await f.delete(created.id, created.outs);
        const lines = m.commandLines();
        assert.ok(lines.length >= 3);
        for (const line of lines) {
            assert.ok(!line.includes(secret), `secret on a command line: ${line}`);
            assert.ok(!line.includes(path), `parameter on a command line: ${line}`);
        }
        assert.ok(!JSON.stringify(created.outs).includes(secret), "state keeps only the checksum");
    });

    it("a user without passwordless sudo fails with a message that says how to fix it", async () => {
        const f = fileProvider();
        await assert.rejects(f.create(fileInputs(m.target("nosudo"), "/etc/k3sbk-test/nope", "x")), (e: Error) => {
            assert.match(
                e.message,
                /^nosudo@127\.0\.0\.1:\d+: writing \/etc\/k3sbk-test\/nope: k3s-buildkit: user nosudo on k3sbk-ssh cannot run sudo without a password; allow it with: echo "nosudo ALL=\(ALL\) NOPASSWD:ALL" > \/etc\/sudoers.d\/k3s-buildkit$/,
            );
            return true;
        });
        assert.equal(await m.exec("test -e /etc/k3sbk-test/nope && echo exists || echo absent"), "absent\n");
    });

    it("a wrong key fails at once with an authentication error, without retrying", async () => {
        const other = generateKey(m.root, "wrong-key");
        await assert.rejects(
            runScript(m.target("root", { privateKey: other.privateKey, dialErrorLimit: 5 }), "true\n", "probe"),
            new RegExp(
                `^TransportError: root@127\\.0\\.0\\.1:${m.port}: authentication failed: the server rejected the private key \\(check sshPrivateKey, its passphrase, and the user's ~/\\.ssh/authorized_keys\\)$`,
            ),
        );
    });

    it("a pinned host key that does not match is refused", async () => {
        const other = generateKey(m.root, "other-host-key");
        const pinned = other.publicKey.split(" ").slice(0, 2).join(" ");
        await assert.rejects(
            runScript(m.target("root", { hostKey: pinned }), "true\n", "probe"),
            /host key mismatch: expected ssh-ed25519 /,
        );
    });

    it("an unreachable host fails with the address and the number of attempts", async () => {
        await assert.rejects(
            runScript(m.target("root", { port: 1, dialErrorLimit: 2 }), "true\n", "probe"),
            /^TransportError: root@127\.0\.0\.1:1: cannot connect: connect ECONNREFUSED 127\.0\.0\.1:1 \(ECONNREFUSED\) — gave up after 2 attempts$/,
        );
    });

    it("reaches a host through a bastion (the same sshd as jump host), checking both host keys", async () => {
        const viaBastion = m.target("root", { bastion: { host: "127.0.0.1", port: m.port, user: "root", hostKey: m.hostKey } });
        // The target session's client socket must belong to sshd (the bastion's forward), not to us.
        const owner = await runScript(viaBastion, 'set -- $SSH_CLIENT\nss -Htnp state established "( sport = :$2 )"\n', "probe");
        assert.match(owner, /users:\(\("sshd"/, owner);
        assert.equal(
            await runScript(m.target("builder", { bastion: viaBastion.bastion }), "id -un\n", "probe"),
            "root\n",
            "sudo works behind a bastion",
        );
        const before = m.commandLines().length;
        const other = generateKey(m.root, "other-bastion-key").publicKey.split(" ").slice(0, 2).join(" ");
        await assert.rejects(
            runScript(m.target("root", { bastion: { host: "127.0.0.1", port: m.port, user: "root", hostKey: other } }), "true\n", "probe"),
            new RegExp(`^TransportError: bastion root@127\\.0\\.0\\.1:${m.port}: host key mismatch: expected ssh-ed25519 `),
        );
        assert.equal(m.commandLines().length, before, "nothing ran when the bastion was refused");
    });

    it("an encrypted key works with its passphrase and fails clearly without it", async () => {
        const enc = generateKey(m.root, "encrypted", "pass phrase");
        await m.exec(`echo ${JSON.stringify(enc.publicKey)} >> /root/.ssh/authorized_keys`);
        const out = await runScript(
            m.target("root", { privateKey: enc.privateKey, privateKeyPassphrase: "pass phrase" }),
            "echo ok\n",
            "probe",
        );
        assert.equal(out, "ok\n");
        await assert.rejects(
            runScript(m.target("root", { privateKey: enc.privateKey }), "true\n", "probe"),
            /the private key cannot be used: .*encrypted/i,
        );
    });
});

/** A unit file for `unit` that runs `sleep infinity`, enabled into multi-user.target. */
const sleepUnit = (target: TransportTarget, unit: string): HostFileInputs =>
    fileInputs(target, `/etc/systemd/system/${unit}`, "[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n");

describe("SystemdService over real SSH on real systemd", () => {
    it("full lifecycle: start, unchanged read, stopped/disabled by hand seen as drift, repaired, restart on trigger, delete", async () => {
        const f = fileProvider();
        const s = serviceProvider();
        const target = m.target("builder");
        const unitFile = await f.create(sleepUnit(target, "k3sbk-demo.service"));
        const inputs: SystemdServiceInputs = {
            target,
            unit: "k3sbk-demo.service",
            enabled: true,
            active: true,
            restartTriggers: ["a"],
            stopOnDelete: true,
            providerVersion: "1",
        };
        assert.deepEqual((await s.check({}, inputs)).failures, []);
        const created = await s.create(inputs);
        assert.equal(await m.exec("systemctl is-enabled k3sbk-demo.service; systemctl is-active k3sbk-demo.service"), "enabled\nactive\n");
        const pid1 = (await m.exec("systemctl show -p MainPID --value k3sbk-demo.service")).trim();

        const unchanged = await s.read(created.id, created.outs);
        assert.deepEqual(unchanged.props, created.outs);
        assert.equal((await s.diff(created.id, unchanged.props, inputs)).changes, false);

        await m.exec("systemctl stop k3sbk-demo.service; systemctl disable --quiet k3sbk-demo.service");
        const drifted = await s.read(created.id, unchanged.props);
        assert.equal(drifted.props.enabled, false);
        assert.equal(drifted.props.active, false);
        assert.equal((await s.diff(created.id, drifted.props, inputs)).changes, true);
        const repaired = await s.update(created.id, drifted.props, inputs);
        assert.equal(await m.exec("systemctl is-enabled k3sbk-demo.service; systemctl is-active k3sbk-demo.service"), "enabled\nactive\n");
        const pid2 = (await m.exec("systemctl show -p MainPID --value k3sbk-demo.service")).trim();
        assert.notEqual(pid2, pid1);

        const sameTriggers = await s.update(created.id, repaired.outs, inputs);
        assert.equal(
            (await m.exec("systemctl show -p MainPID --value k3sbk-demo.service")).trim(),
            pid2,
            "no restart without a trigger change",
        );
        const changed = { ...inputs, restartTriggers: ["b"] };
        assert.equal((await s.diff(created.id, sameTriggers.outs, changed)).changes, true);
        await s.update(created.id, sameTriggers.outs, changed);
        const pid3 = (await m.exec("systemctl show -p MainPID --value k3sbk-demo.service")).trim();
        assert.notEqual(pid3, pid2, "a changed trigger restarts the unit");

        await s.delete(created.id, { ...changed });
        assert.equal(
            await m.exec("systemctl is-enabled k3sbk-demo.service || true; systemctl is-active k3sbk-demo.service || true"),
            "disabled\ninactive\n",
        );
        await f.delete(unitFile.id, unitFile.outs);
        await m.exec("systemctl daemon-reload");
        assert.equal(await m.exec("systemctl cat k3sbk-demo.service >/dev/null 2>&1 && echo known || echo unknown"), "unknown\n");
    });

    it("a ready script runs in the same step once the unit is active; its failure fails the start, with its message", async () => {
        const f = fileProvider();
        const s = serviceProvider();
        const target = m.target("builder");
        const unitFile = await f.create(sleepUnit(target, "k3sbk-ready.service"));
        const inputs: SystemdServiceInputs = {
            target,
            unit: "k3sbk-ready.service",
            enabled: true,
            active: true,
            restartTriggers: ["a"],
            stopOnDelete: true,
            startTimeoutSeconds: 30,
            readyScript: "set -euo pipefail\nsystemctl is-active k3sbk-ready.service >> /tmp/k3sbk-ready-seen\n",
            providerVersion: "1",
        };
        await m.exec("rm -f /tmp/k3sbk-ready-seen");
        const commands = m.commandLines().length;
        const created = await s.create(inputs);
        assert.equal(m.commandLines().length - commands, 1, "start and readiness are one remote step");
        assert.equal(await m.exec("cat /tmp/k3sbk-ready-seen"), "active\n");
        await s.update(created.id, created.outs, { ...inputs, restartTriggers: ["b"] });
        assert.equal(await m.exec("cat /tmp/k3sbk-ready-seen"), "active\nactive\n", "a restart waits for it again");
        const failing = { ...inputs, restartTriggers: ["c"], readyScript: "echo 'k3sbk: daemon not answering' >&2; exit 3\n" };
        await assert.rejects(
            s.update(created.id, created.outs, failing),
            /restarting k3sbk-ready\.service failed with exit code 3:\nk3sbk: daemon not answering/,
        );
        await s.delete(created.id, created.outs);
        await f.delete(unitFile.id, unitFile.outs);
        await m.exec("systemctl daemon-reload; rm -f /tmp/k3sbk-ready-seen");
    });

    it("rejects a unit name that is not one", async () => {
        const s = serviceProvider();
        const r = await s.check(
            {},
            {
                target: m.target("root"),
                unit: "x; reboot",
                enabled: true,
                active: true,
                restartTriggers: [],
                stopOnDelete: true,
                providerVersion: "1",
            },
        );
        assert.deepEqual(r.failures, [
            { property: "unit", reason: 'expected a systemd unit name like "buildkit.socket"; got "x; reboot"' },
        ]);
    });
});

describe("one pooled SSH connection per host, over real OpenSSH", () => {
    /** Connections the machine's sshd accepted for `user` (its journal). */
    async function accepted(user: string): Promise<number> {
        const out = await m.exec(`journalctl -q -o cat _COMM=sshd-session _COMM=sshd | grep -c 'Accepted publickey for ${user} ' || true`);
        return Number(out.trim());
    }

    it("runs concurrent steps over one connection, bounded below sshd's MaxSessions", async () => {
        await closeSshPool();
        const t = m.target("builder", { dialErrorLimit: 1 });
        const connectionsBefore = await accepted("builder");
        const dialsBefore = sshPool().stats.dials;
        const commandsBefore = m.commandLines().length;
        // 3 × MAX_CHANNELS at once, each holding its channel: more than sshd's MaxSessions (10) would refuse.
        const n = 3 * MAX_CHANNELS;
        const outs = await Promise.all(Array.from({ length: n }, (_, i) => runScript(t, `sleep 0.3; echo "step ${i}"\n`, `step ${i}`)));
        const commands = m.commandLines().length - commandsBefore;
        assert.equal(outs.length, n);
        outs.forEach((o, i) => assert.equal(o, `step ${i}\n`));
        assert.equal(sshPool().stats.dials - dialsBefore, 1, JSON.stringify(sshPool().stats));
        assert.equal((await accepted("builder")) - connectionsBefore, 1, "sshd accepted one connection for all the steps");
        assert.equal(commands, n, "each step is its own channel (session)");
    });

    it("re-dials a connection dropped under a running step, which then succeeds (run once more: steps are idempotent)", async () => {
        await closeSshPool();
        const t = m.target("builder", { dialErrorLimit: 1 });
        const marker = "/tmp/k3sbk-redial-marker";
        await m.exec(`rm -f ${marker}`);
        await runScript(t, "true\n", "warm the pool");
        const { dials, redials } = { ...sshPool().stats };
        const connectionsBefore = await accepted("builder");
        const step = runScript(t, `echo run >> ${marker}; sleep 2; echo finished\n`, "long step");
        // Once the step runs, sshd's processes for that connection are killed: the TCP connection drops.
        for (let i = 0; i < 100 && !(await m.exec(`cat ${marker} 2>/dev/null || true`)).includes("run"); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        await m.exec(`pkill -KILL -f '^sshd(-session)?: builder' || true`);
        assert.equal(await step, "finished\n");
        assert.equal(sshPool().stats.redials - redials, 1);
        assert.equal(sshPool().stats.dials - dials, 1, "one new connection");
        assert.equal((await accepted("builder")) - connectionsBefore, 1);
        assert.equal(await m.exec(`cat ${marker}`), "run\nrun\n", "cut off once, then run to the end on the new connection");
        // The next step uses the new connection: no further dial.
        assert.equal(await runScript(t, "echo again\n", "after"), "again\n");
        assert.equal(sshPool().stats.dials - dials, 1);
    });

    it("a connection that drops again under the retried step fails the step, naming the drop", async () => {
        await closeSshPool();
        const t = m.target("builder", { dialErrorLimit: 1 });
        const marker = "/tmp/k3sbk-redial-twice";
        await m.exec(`rm -f ${marker}`);
        // (Its outcome is taken at once: it settles while the test is still dropping connections.)
        const outcome = runScript(t, `echo run >> ${marker}; sleep 5; echo finished\n`, "long step").then(
            () => new Error("the step succeeded"),
            (e: Error) => e,
        );
        const kill = async (runs: string) => {
            for (let i = 0; i < 200 && (await m.exec(`cat ${marker} 2>/dev/null || true`)) !== runs; i++) {
                await new Promise((r) => setTimeout(r, 50));
            }
            await m.exec(`pkill -KILL -f '^sshd(-session)?: builder' || true`);
        };
        await kill("run\n");
        await kill("run\nrun\n");
        assert.match((await outcome).message, /^builder@127\.0\.0\.1:\d+: the connection dropped before the command finished$/);
    });
});
