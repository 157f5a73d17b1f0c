/**
 * k3s-buildkit: read and validate the stack config, compose the components, export outputs.
 * Nothing else lives here; see components/.
 */
import { loadStackConfig } from "./components/config";
import { hostConnection } from "./components/host/connection";
import { Host } from "./components/host/host";

const { settings, secrets } = loadStackConfig();

const hosts = settings.hosts.map((h) => new Host(h.name, { host: h, connection: hostConnection(h.connection, secrets) }));

/** Per host: its role and architecture. */
export const hostInfo = Object.fromEntries(hosts.map((h, i) => [h.name, { role: settings.hosts[i].role, arch: h.arch }]));
