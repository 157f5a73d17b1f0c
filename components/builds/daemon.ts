/**
 * What builds need to know of the in-cluster daemon: its name and port (the Service, the headless
 * Service's pod names), and the registry credentials as a docker config.json (Jobs and host builds).
 * The daemon itself is built in ../cluster/ from these.
 */
import type { ResolvedConfig } from "../config";

export const DAEMON_NAME = "buildkitd";
export const DAEMON_PORT = 1234;

/** `~/.docker/config.json` content for the registries that have a user name (seed 001/002). */
export function dockerConfigJson(registries: ResolvedConfig["registries"], passwords: Readonly<Record<string, string>>): string {
    const auths: Record<string, { auth: string }> = {};
    for (const host of Object.keys(registries).sort()) {
        const user = registries[host].username;
        if (user === undefined) continue;
        // Docker Hub's credentials live under its legacy index URL.
        auths[host === "docker.io" ? "https://index.docker.io/v1/" : host] = {
            auth: Buffer.from(`${user}:${passwords[host] ?? ""}`, "utf8").toString("base64"),
        };
    }
    return JSON.stringify({ auths });
}
