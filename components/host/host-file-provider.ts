/**
 * The HostFile dynamic provider and its pure parts. This module must not import the Pulumi SDK at run
 * time (see ./runner.ts): only `import type` from it.
 *
 * `HostFile`: one file on a host (path, content, mode, owner) as a Pulumi dynamic resource whose
 * `read` fetches the file's checksum, mode and owner over the connection. A hand edit, a changed mode
 * or a deleted file shows as drift in `pulumi refresh` / `pulumi preview --refresh`, and the next
 * `pulumi up` writes the file back. Writes are atomic (temp file in the same directory + rename).
 *
 * The content may be secret: it travels only inside the script on stdin, and the state keeps only its
 * sha256 (itself marked secret), never the content.
 */
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { targetIdentity, targetLabel, type TransportTarget } from "./runner";
import { renderScript } from "../render/shell";
import { runScript } from "./transport";

/** Octal file mode: 3 or 4 digits. */
const MODE = /^0?[0-7]{3}$/;
/** Absolute path of plain characters; no `..` segment, no trailing slash. */
const PATH = /^(?:\/[A-Za-z0-9._+@-]+)+$/;
const OWNER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Inputs as the provider sees them. */
export interface HostFileInputs {
    readonly target: TransportTarget;
    readonly path: string;
    readonly content: string;
    readonly mode: string;
    readonly owner: string;
    readonly group: string;
    readonly providerVersion: string;
}

/** State: what is on the host. The content itself is not kept, only its checksum. */
export interface HostFileState {
    readonly target: TransportTarget;
    readonly path: string;
    readonly present: boolean;
    readonly sha256: string;
    readonly mode: string;
    readonly owner: string;
    readonly group: string;
    readonly providerVersion: string;
    /** Directories the first write created (outermost first); removed on delete when empty. */
    readonly createdDirs?: readonly string[];
}

/** Normalizes a mode to 4 octal digits (`644` → `0644`). */
export function normalizeMode(mode: string): string {
    return mode.padStart(4, "0");
}

export function sha256Hex(content: string): string {
    return createHash("sha256").update(content, "utf8").digest("hex");
}

/** Problems with file inputs, each naming the property. */
export function checkFileInputs(i: Pick<HostFileInputs, "path" | "mode" | "owner" | "group">): { property: string; reason: string }[] {
    const failures: { property: string; reason: string }[] = [];
    if (!PATH.test(i.path) || i.path.split("/").includes("..")) {
        failures.push({
            property: "path",
            reason: `expected an absolute file path of plain characters, like /etc/buildkit/buildkitd.toml; got ${JSON.stringify(i.path)}`,
        });
    }
    if (!MODE.test(i.mode))
        failures.push({ property: "mode", reason: `expected an octal mode like "0644"; got ${JSON.stringify(i.mode)}` });
    if (!OWNER.test(i.owner))
        failures.push({ property: "owner", reason: `expected a user name like "root"; got ${JSON.stringify(i.owner)}` });
    if (!OWNER.test(i.group))
        failures.push({ property: "group", reason: `expected a group name like "root"; got ${JSON.stringify(i.group)}` });
    return failures;
}

/** The script that writes the file atomically. Content is base64 in a quoted here-document. */
export function writeFileScript(i: Pick<HostFileInputs, "path" | "content" | "mode" | "owner" | "group">): string {
    const b64 = Buffer.from(i.content, "utf8")
        .toString("base64")
        .replace(/.{1,76}/g, "$&\n");
    return renderScript(
        `dir=$(dirname -- "$FILE_PATH")
# Report the directories this write creates, outermost first, so delete can remove them again.
missing=""
d=$dir
while [ ! -d "$d" ]; do missing="$d
$missing"; d=$(dirname -- "$d"); done
printf '%s' "$missing"
mkdir -p -- "$dir"
tmp=$(mktemp -- "$dir/.k3s-buildkit.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
base64 -d > "$tmp" <<'K3S_BUILDKIT_EOF'
${b64}K3S_BUILDKIT_EOF
chown -- "$FILE_OWNER:$FILE_GROUP" "$tmp"
chmod -- "$FILE_MODE" "$tmp"
mv -f -- "$tmp" "$FILE_PATH"
trap - EXIT
`,
        { FILE_PATH: i.path, FILE_MODE: normalizeMode(i.mode), FILE_OWNER: i.owner, FILE_GROUP: i.group },
    );
}

/** The script that reports the file: `absent`, or `present`, its sha256, then `mode owner group`. */
export function readFileScript(path: string): string {
    return renderScript(
        `if [ ! -e "$FILE_PATH" ] && [ ! -L "$FILE_PATH" ]; then echo absent; exit 0; fi
echo present
sha256sum -- "$FILE_PATH" | cut -d' ' -f1
stat -c '%a %U %G' -- "$FILE_PATH"
`,
        { FILE_PATH: path },
    );
}

/** The script that removes exactly the file (and nothing else). */
/**
 * The script that removes exactly the file, then the directories its first write created if they are
 * empty (innermost first), and reloads systemd when the file was a unit.
 */
export function deleteFileScript(path: string, createdDirs: readonly string[] = []): string {
    return renderScript(
        `rm -f -- "$FILE_PATH"
printf '%s\\n' "$CREATED_DIRS" | tac | while IFS= read -r d; do
  if [ -n "$d" ] && [ -d "$d" ]; then rmdir --ignore-fail-on-non-empty -- "$d"; fi
done
case "$FILE_PATH" in /etc/systemd/system/*) if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi ;; esac
`,
        { FILE_PATH: path, CREATED_DIRS: createdDirs.join("\n") },
    );
}

/** Parses the output of {@link readFileScript}. */
export function parseReadOutput(out: string): Pick<HostFileState, "present" | "sha256" | "mode" | "owner" | "group"> {
    const lines = out.trim().split("\n");
    if (lines[0] === "absent") return { present: false, sha256: "", mode: "", owner: "", group: "" };
    const [sha = "", stat = ""] = lines.slice(1);
    const [mode = "", owner = "", group = ""] = stat.split(" ");
    if (lines[0] !== "present" || !/^[0-9a-f]{64}$/.test(sha) || mode === "") {
        throw new Error(`unexpected output while reading a file: ${JSON.stringify(out.slice(0, 200))}`);
    }
    return { present: true, sha256: sha, mode: normalizeMode(mode), owner, group };
}

/**
 * Changes that update state without touching the host. (An array: a Set does not survive the
 * serialization of dynamic-provider code into state.)
 */
export const STATE_ONLY: readonly string[] = ["credentials", "providerVersion"];

/** Which properties differ between the state and the desired inputs. Pure. */
export function fileChanges(olds: HostFileState, news: HostFileInputs): string[] {
    const changes: string[] = [];
    if (!olds.present || olds.sha256 !== sha256Hex(news.content)) changes.push("content");
    if (olds.mode !== normalizeMode(news.mode)) changes.push("mode");
    if (olds.owner !== news.owner) changes.push("owner");
    if (olds.group !== news.group) changes.push("group");
    if (olds.path !== news.path) changes.push("path");
    if (JSON.stringify(targetIdentity(olds.target)) !== JSON.stringify(targetIdentity(news.target))) changes.push("target");
    else if (JSON.stringify(olds.target) !== JSON.stringify(news.target)) changes.push("credentials");
    if (olds.providerVersion !== news.providerVersion) changes.push("providerVersion");
    return changes;
}

async function write(i: HostFileInputs, createdBefore: readonly string[]): Promise<HostFileState> {
    const created = (await runScript(i.target, writeFileScript(i), `writing ${i.path}`)).split("\n").filter((d) => d !== "");
    return {
        target: i.target,
        path: i.path,
        present: true,
        sha256: sha256Hex(i.content),
        mode: normalizeMode(i.mode),
        owner: i.owner,
        group: i.group,
        providerVersion: i.providerVersion,
        createdDirs: [...createdBefore, ...created.filter((d) => !createdBefore.includes(d))],
    };
}

/** The dynamic provider. Exported for tests, which drive it against real hosts. */
export const hostFileProvider: pulumi.dynamic.ResourceProvider<HostFileInputs, HostFileState> = {
    async check(_olds, news) {
        return { inputs: news, failures: checkFileInputs(news) };
    },
    async diff(_id, olds, news) {
        const changes = fileChanges(olds, news);
        const replaces = changes.includes("path") ? ["path"] : [];
        return { changes: changes.length > 0, replaces, deleteBeforeReplace: true };
    },
    async create(inputs) {
        return { id: `${targetLabel(inputs.target)}:${inputs.path}`, outs: await write(inputs, []) };
    },
    async read(id, props) {
        if (props === undefined) throw new Error(`HostFile ${id}: cannot read without state`);
        const found = parseReadOutput(await runScript(props.target, readFileScript(props.path), `reading ${props.path}`));
        return { id, props: { ...props, ...found } };
    },
    async update(_id, olds, news) {
        // New credentials or provider code only: state changes, the host is not touched.
        if (fileChanges(olds, news).every((c) => STATE_ONLY.includes(c)))
            return { outs: { ...olds, target: news.target, providerVersion: news.providerVersion } };
        return { outs: await write(news, olds.createdDirs ?? []) };
    },
    async delete(_id, props) {
        await runScript(props.target, deleteFileScript(props.path, props.createdDirs ?? []), `deleting ${props.path}`);
    },
};
