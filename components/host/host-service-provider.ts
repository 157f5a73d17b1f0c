/**
 * The SystemdService dynamic provider and its pure parts; no run-time import of the Pulumi SDK
 * (see ./runner.ts).
 *
 * `SystemdService`: the enabled/active state of one systemd unit on a host, as a dynamic resource
 * whose `read` asks systemd (`systemctl is-enabled` / `is-active`). A unit stopped or disabled by hand
 * shows as drift in `pulumi refresh`, and the next `pulumi up` enables/starts it again. A change to
 * `restartTriggers` (e.g. the checksum of a config file) restarts the unit.
 */
import type * as pulumi from "@pulumi/pulumi";
import { STATE_ONLY } from "./host-file-provider";
import { targetIdentity, targetLabel, type TransportTarget } from "./runner";
import { renderScript } from "../render/shell";
import { runScript } from "./transport";

const UNIT = /^[A-Za-z0-9:_.@-]+\.(?:service|socket|timer|target|path|mount)$/;

export interface SystemdServiceInputs {
    readonly target: TransportTarget;
    readonly unit: string;
    readonly enabled: boolean;
    readonly active: boolean;
    readonly restartTriggers: string[];
    readonly stopOnDelete: boolean;
    /**
     * How long a start or restart may take before the step fails (with the unit's last log lines). A
     * `Type=notify` unit with `TimeoutStartSec=0` (k3s's) would otherwise block `systemctl` forever.
     * 0: no bound. Absent in state written before it existed.
     */
    readonly startTimeoutSeconds?: number;
    /**
     * A BuildKit daemon: a restart first waits for its running builds, at most `timeoutSeconds`. Not part
     * of the diff (it says how a restart happens, not what runs). Absent in state written before it existed.
     */
    readonly waitForBuilds?: { readonly buildkitAddress: string; readonly timeoutSeconds: number };
    /**
     * A script run, in the same remote step, once the unit is (re)started and active: the unit's own
     * readiness check (e.g. BuildKit answering on its socket); the step fails with it. Not part of the
     * diff (it says when a start is done, not what runs). Absent in state written before it existed.
     */
    readonly readyScript?: string;
    readonly providerVersion: string;
}

/** State: the inputs, with `enabled`/`active` as last read from systemd. */
export type SystemdServiceState = SystemdServiceInputs;

export function checkServiceInputs(i: Pick<SystemdServiceInputs, "unit">): { property: string; reason: string }[] {
    return UNIT.test(i.unit)
        ? []
        : [{ property: "unit", reason: `expected a systemd unit name like "buildkit.socket"; got ${JSON.stringify(i.unit)}` }];
}

/**
 * The script that brings the unit to the desired state. `daemon-reload` first, so a unit file written
 * just before is known; `restart` only when asked (a trigger changed) and the unit should run.
 */
export function applyServiceScript(
    i: Pick<SystemdServiceInputs, "unit" | "enabled" | "active" | "startTimeoutSeconds" | "waitForBuilds" | "readyScript">,
    restart: boolean,
): string {
    return renderScript(
        `${WAIT_ACTIVE}systemctl daemon-reload
if [ "$UNIT_ENABLED" = true ]; then systemctl enable --quiet -- "$UNIT"; else systemctl disable --quiet -- "$UNIT"; fi
if [ "$UNIT_ACTIVE" != true ]; then
  systemctl stop -- "$UNIT"
  exit 0
fi
verb=start
[ "$UNIT_RESTART" = true ] && verb=restart
if [ "$verb" = restart ] && [ -n "$BUILDKIT_ADDR" ] && [ "$(systemctl is-active -- "$UNIT" || true)" = active ]; then
${WAIT_FOR_BUILDS}fi
# A unit still activating (a start that never got ready, e.g. from a failed up) waits on its old
# process: restart it, so a fixed unit or config takes effect.
if [ "$verb" = start ] && [ "$(systemctl is-active -- "$UNIT" || true)" = activating ]; then verb=restart; fi
if [ "$START_TIMEOUT" -eq 0 ]; then
  systemctl "$verb" -- "$UNIT"
else
  # Bounded: queue the job, then wait for the unit to be active, at most START_TIMEOUT seconds.
  systemctl --no-block "$verb" -- "$UNIT"
  deadline=$((SECONDS + START_TIMEOUT))
  wait_active
fi
# Then the unit's own readiness check, in this same step.
if [ -n "$READY_SCRIPT" ]; then bash -c "$READY_SCRIPT"; fi
`,
        {
            UNIT: i.unit,
            UNIT_ENABLED: i.enabled,
            UNIT_ACTIVE: i.active,
            UNIT_RESTART: restart,
            START_TIMEOUT: i.startTimeoutSeconds ?? 0,
            BUILDKIT_ADDR: i.waitForBuilds?.buildkitAddress ?? "",
            BUILD_GRACE: i.waitForBuilds?.timeoutSeconds ?? 0,
            READY_SCRIPT: i.readyScript ?? "",
        },
    );
}

/** Waits until $UNIT is active; when it fails or $deadline passes, prints its last log lines and exits 1. */
const WAIT_ACTIVE = `wait_active() {
while :; do
  state=$(systemctl is-active -- "$UNIT" || true)
  [ "$state" = active ] && return 0
  if [ "$state" = failed ] || [ "$SECONDS" -ge "$deadline" ]; then
    # The unit's last log lines (secrets masked), then the verdict: error messages keep the tail.
    journalctl -u "$UNIT" -n 25 --no-pager -o cat 2>/dev/null |
      sed -E 's/(K10[0-9a-f]*::[^: ]*:)[^ ]*/\\1[secret]/g; s/((token|password|secret)[=: ]+)[^ ,"]+/\\1[secret]/Ig' >&2 || true
    echo "k3s-buildkit: $UNIT on $(hostname) is $state after $verb (bound: $START_TIMEOUT s); its log above, secrets masked (all of it: journalctl -u $UNIT)" >&2
    exit 1
  fi
  sleep 1
done
}
`;

/**
 * Waits (in a unit's restart) until the BuildKit daemon at $BUILDKIT_ADDR runs no build, at most
 * $BUILD_GRACE seconds. Running builds are what BuildKit itself reports: the STARTED events of
 * \`buildctl debug histories\` (its active builds; finished ones are COMPLETE). A daemon that does not
 * answer runs no build we could wait for. Past the bound the restart goes ahead, naming the builds it cuts.
 */
const WAIT_FOR_BUILDS = `  running_builds() {
    buildctl --addr "$BUILDKIT_ADDR" debug histories --format '{{.Type}} {{.Record.Ref}}' 2>/dev/null | sed -n 's/^STARTED //p' || true
  }
  grace_end=$((SECONDS + BUILD_GRACE))
  said=""
  while :; do
    running=$(running_builds)
    [ -z "$running" ] && break
    if [ "$SECONDS" -ge "$grace_end" ]; then
      echo "k3s-buildkit: restarting $UNIT on $(hostname) with builds still running after $BUILD_GRACE s (buildkit.buildGraceSeconds): $(echo "$running" | tr '\\n' ' ')" >&2
      break
    fi
    if [ "$said" != "$running" ]; then
      echo "k3s-buildkit: $UNIT on $(hostname) waits for $(echo "$running" | wc -l) running build(s) before it restarts (at most $BUILD_GRACE s): $(echo "$running" | tr '\\n' ' ')" >&2
      said=$running
    fi
    sleep 2
  done
  echo "k3s-buildkit: $UNIT on $(hostname) runs no build; restarting" >&2
`;

/** The script that reports `is-enabled` and `is-active`, one per line. */
export function readServiceScript(unit: string): string {
    return renderScript(
        `systemctl is-enabled -- "$UNIT" 2>/dev/null || true
systemctl is-active -- "$UNIT" 2>/dev/null || true
`,
        { UNIT: unit },
    );
}

/** The script that stops and disables the unit, if systemd knows it. */
export function deleteServiceScript(unit: string): string {
    return renderScript(
        `if systemctl cat -- "$UNIT" >/dev/null 2>&1; then
  systemctl disable --now --quiet -- "$UNIT"
fi
# A unit that ever failed stays listed by systemctl --failed until reset, even once its file is gone.
systemctl reset-failed -- "$UNIT" 2>/dev/null || true
`,
        { UNIT: unit },
    );
}

/** Parses {@link readServiceScript}'s output. `enabled` counts `enabled`, `static`-free states only. */
export function parseServiceOutput(out: string): { enabled: boolean; active: boolean } {
    const [enabled = "", active = ""] = out
        .trim()
        .split("\n")
        .map((l) => l.trim());
    return { enabled: enabled === "enabled" || enabled === "enabled-runtime", active: active === "active" || active === "reloading" };
}

export function serviceChanges(olds: SystemdServiceState, news: SystemdServiceInputs): string[] {
    const changes: string[] = [];
    for (const k of ["unit", "enabled", "active", "stopOnDelete", "providerVersion"] as const) {
        if (olds[k] !== news[k]) changes.push(k);
    }
    if (JSON.stringify(olds.restartTriggers) !== JSON.stringify(news.restartTriggers)) changes.push("restartTriggers");
    if (JSON.stringify(targetIdentity(olds.target)) !== JSON.stringify(targetIdentity(news.target))) changes.push("target");
    else if (JSON.stringify(olds.target) !== JSON.stringify(news.target)) changes.push("credentials");
    return changes;
}

export const systemdServiceProvider: pulumi.dynamic.ResourceProvider<SystemdServiceInputs, SystemdServiceState> = {
    async check(_olds, news) {
        return { inputs: news, failures: checkServiceInputs(news) };
    },
    async diff(_id, olds, news) {
        const changes = serviceChanges(olds, news);
        return { changes: changes.length > 0, replaces: changes.includes("unit") ? ["unit"] : [], deleteBeforeReplace: true };
    },
    async create(inputs) {
        await runScript(inputs.target, applyServiceScript(inputs, false), `starting ${inputs.unit}`);
        return { id: `${targetLabel(inputs.target)}:${inputs.unit}`, outs: inputs };
    },
    async read(id, props) {
        if (props === undefined) throw new Error(`SystemdService ${id}: cannot read without state`);
        const found = parseServiceOutput(await runScript(props.target, readServiceScript(props.unit), `reading ${props.unit}`));
        return { id, props: { ...props, ...found } };
    },
    async update(_id, olds, news) {
        if (serviceChanges(olds, news).every((c) => STATE_ONLY.includes(c))) return { outs: news };
        const restart = JSON.stringify(olds.restartTriggers) !== JSON.stringify(news.restartTriggers);
        // What a restart waits for (running builds) is shown while it waits, as install steps show their output.
        const where = targetLabel(news.target);
        await runScript(news.target, applyServiceScript(news, restart), `${restart ? "restarting" : "starting"} ${news.unit}`, (chunk) =>
            process.stderr.write(chunk.replace(/^(?=.)/gm, `[${where}] `)),
        );
        return { outs: news };
    },
    async delete(_id, props) {
        if (props.stopOnDelete) await runScript(props.target, deleteServiceScript(props.unit), `stopping ${props.unit}`);
    },
};
