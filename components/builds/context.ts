/**
 * A local build context: which files `.dockerignore` lets through, a content hash over them (paths,
 * types, modes, contents, symlink targets, empty directories), and a deterministic tar of exactly
 * those entries. The hash decides whether a host build runs again; the tar is what the host receives.
 *
 * `.dockerignore` follows Docker's rules: one pattern per line, `#` comments, `!` re-includes, the last
 * matching pattern wins, `*` and `?` stay within a path segment, `**` spans segments, a leading `/` is
 * dropped, and a pattern that matches a directory excludes everything under it.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export interface ContextEntry {
    /** Relative path with `/` separators. */
    readonly path: string;
    readonly type: "file" | "dir" | "symlink";
    /** Permission bits (e.g. 0o755). */
    readonly mode: number;
    /** Files: the content; symlinks: the target. */
    readonly data?: Buffer;
    readonly linkTarget?: string;
}

/** One piece of a `.dockerignore` pattern. */
type Token =
    | { readonly kind: "char"; readonly test: (c: string) => boolean }
    /** `*`: any run of characters within one segment. */
    | { readonly kind: "star" }
    /** `**` at the end or before anything but `/`: any run of characters. */
    | { readonly kind: "globstar" }
    /** `**` + `/`: zero or more whole segments. */
    | { readonly kind: "segments" };

interface Pattern {
    readonly negate: boolean;
    readonly tokens: readonly Token[];
}

/** Path cleaning as Go's filepath.Clean does for relative paths. */
function clean(p: string): string {
    const out: string[] = [];
    for (const seg of p.split("/")) {
        if (seg === "" || seg === ".") continue;
        if (seg === "..") out.pop();
        else out.push(seg);
    }
    return out.join("/");
}

/** Compiles a glob into tokens (Docker's rules: `*` and `?` within a segment, `**` across, `[…]` classes, `\\` escapes). */
function compileGlob(glob: string): Token[] {
    const tokens: Token[] = [];
    for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === "*") {
            if (glob[i + 1] === "*") {
                i++;
                if (glob[i + 1] === "/") {
                    i++;
                    // `**/**/` is `**/`: drop repeats, they match nothing more.
                    if (tokens.at(-1)?.kind !== "segments") tokens.push({ kind: "segments" });
                } else tokens.push({ kind: "globstar" });
            } else if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
        } else if (c === "?") tokens.push({ kind: "char", test: (x) => x !== "/" });
        else if (c === "[" && glob.indexOf("]", i + 1) > i + 1) {
            const end = glob.indexOf("]", i + 1);
            const body = glob
                .slice(i + 1, end)
                .replace(/^!/, "^")
                .replace(/\\/g, "\\\\");
            const cls = new RegExp(`^[${body}]$`);
            tokens.push({ kind: "char", test: (x) => x !== "/" && cls.test(x) });
            i = end;
        } else {
            const lit = c === "\\" && i + 1 < glob.length ? glob[++i] : c;
            tokens.push({ kind: "char", test: (x) => x === lit });
        }
    }
    return tokens;
}

/**
 * Whether `path` matches the whole of `tokens`. Tracks the set of reachable positions token by token,
 * so it costs O(tokens × path length) whatever the pattern (no backtracking).
 */
export function matchGlob(tokens: readonly Token[], path: string): boolean {
    const n = path.length;
    let reach = new Uint8Array(n + 1);
    reach[0] = 1;
    for (const t of tokens) {
        const next = new Uint8Array(n + 1);
        let first = -1;
        for (let i = 0; i <= n; i++) {
            if (reach[i] === 1) {
                first = i;
                break;
            }
        }
        if (first < 0) return false;
        switch (t.kind) {
            case "char":
                for (let i = first; i < n; i++) if (reach[i] === 1 && t.test(path[i])) next[i + 1] = 1;
                break;
            case "star": {
                let open = false;
                for (let i = first; i <= n; i++) {
                    if (reach[i] === 1) open = true;
                    if (open) next[i] = 1;
                    if (i < n && path[i] === "/") open = false;
                }
                break;
            }
            case "globstar":
                for (let i = first; i <= n; i++) next[i] = 1;
                break;
            case "segments":
                for (let i = first; i <= n; i++) if (reach[i] === 1 || (i > first && path[i - 1] === "/")) next[i] = 1;
                break;
        }
        reach = next;
    }
    return reach[n] === 1;
}

/** Parses `.dockerignore` text. */
export function parseDockerignore(text: string): Pattern[] {
    const patterns: Pattern[] = [];
    for (const raw of text.split(/\r?\n/)) {
        let line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const negate = line.startsWith("!");
        if (negate) line = line.slice(1).trim();
        line = clean(line.replace(/^\/+/, ""));
        if (line === "") continue;
        patterns.push({ negate, tokens: compileGlob(line) });
    }
    return patterns;
}

/** Whether `.dockerignore` excludes `path`: the last pattern matching it or one of its parents decides. */
export function isIgnored(patterns: readonly Pattern[], path: string): boolean {
    const parents: string[] = [];
    const segs = path.split("/");
    for (let i = 1; i <= segs.length; i++) parents.push(segs.slice(0, i).join("/"));
    let ignored = false;
    for (const p of patterns) {
        if (parents.some((q) => matchGlob(p.tokens, q))) ignored = !p.negate;
    }
    return ignored;
}

/** The context's entries, sorted by path, after `.dockerignore`. `.dockerignore` itself is kept (Docker does too). */
export function walkContext(dir: string): ContextEntry[] {
    let patterns: Pattern[] = [];
    try {
        patterns = parseDockerignore(readFileSync(join(dir, ".dockerignore"), "utf8"));
    } catch {
        // no .dockerignore
    }
    const reincludes = patterns.some((p) => p.negate);
    const entries: ContextEntry[] = [];
    const visit = (rel: string) => {
        for (const name of readdirSync(join(dir, rel)).sort()) {
            const path = rel === "" ? name : `${rel}/${name}`;
            const st = lstatSync(join(dir, path));
            const mode = st.mode & 0o7777;
            if (st.isDirectory()) {
                const ignored = isIgnored(patterns, path);
                if (!ignored) entries.push({ path, type: "dir", mode });
                // A `!` pattern may re-include a file below an ignored directory; only then walk into it.
                if (!ignored || reincludes) visit(path);
            } else if (isIgnored(patterns, path)) {
                continue;
            } else if (st.isSymbolicLink()) {
                entries.push({ path, type: "symlink", mode: 0o777, linkTarget: readlinkSync(join(dir, path)) });
            } else if (st.isFile()) {
                entries.push({ path, type: "file", mode, data: readFileSync(join(dir, path)) });
            }
        }
    };
    visit("");
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Entries for inline files (mode 0644, parents as 0755 directories). */
export function inlineEntries(files: Readonly<Record<string, string>>): ContextEntry[] {
    const entries = new Map<string, ContextEntry>();
    for (const path of Object.keys(files).sort()) {
        const segs = path.split("/");
        for (let i = 1; i < segs.length; i++) {
            const d = segs.slice(0, i).join("/");
            if (!entries.has(d)) entries.set(d, { path: d, type: "dir", mode: 0o755 });
        }
        entries.set(path, { path, type: "file", mode: 0o644, data: Buffer.from(files[path], "utf8") });
    }
    return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** sha256 over every entry's path, type, mode and content (or link target). */
export function contextHash(entries: readonly ContextEntry[]): string {
    const h = createHash("sha256");
    for (const e of entries) {
        const body =
            e.type === "file"
                ? createHash("sha256")
                      .update(e.data ?? Buffer.alloc(0))
                      .digest("hex")
                : e.type === "symlink"
                  ? (e.linkTarget ?? "")
                  : "";
        h.update(`${e.type}\0${e.path}\0${e.mode.toString(8)}\0${body}\n`);
    }
    return h.digest("hex");
}

function header(name: string, e: ContextEntry, size: number): Buffer {
    const b = Buffer.alloc(512);
    let prefix = "";
    let base = e.type === "dir" ? `${name}/` : name;
    if (Buffer.byteLength(base) > 100) {
        const cut = base.lastIndexOf("/", base.length - 2);
        prefix = base.slice(0, cut);
        base = base.slice(cut + 1);
        if (Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`context path too long for tar: ${name}`);
    }
    const put = (s: string, at: number, len: number) => b.write(s, at, len, "utf8");
    const oct = (n: number, at: number, len: number) => put(`${n.toString(8).padStart(len - 1, "0")}\0`, at, len);
    put(base, 0, 100);
    oct(e.mode, 100, 8);
    oct(0, 108, 8);
    oct(0, 116, 8);
    oct(size, 124, 12);
    oct(0, 136, 12);
    b.fill(" ", 148, 156);
    put(e.type === "file" ? "0" : e.type === "symlink" ? "2" : "5", 156, 1);
    if (e.linkTarget !== undefined) {
        if (Buffer.byteLength(e.linkTarget) > 100) throw new Error(`symlink target too long for tar: ${name}`);
        put(e.linkTarget, 157, 100);
    }
    put("ustar\0", 257, 6);
    put("00", 263, 2);
    put(prefix, 345, 155);
    let sum = 0;
    for (const byte of b) sum += byte;
    put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
    return b;
}

/** A ustar archive of the entries: owner 0:0, mtime 0, so equal contexts give equal bytes. */
export function tarEntries(entries: readonly ContextEntry[]): Buffer {
    const parts: Buffer[] = [];
    for (const e of entries) {
        const data = e.type === "file" ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
        parts.push(header(e.path, e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
    parts.push(Buffer.alloc(1024));
    return Buffer.concat(parts);
}
