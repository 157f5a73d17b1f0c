/**
 * The stack config, by concern: hosts, k3s, BuildKit and nerdctl, registries, the in-cluster daemon,
 * builds, cross-checks; composed into one schema in ./stack.ts (the single source for validation,
 * defaults, types, the README's reference and the JSON Schema), loaded by ./load.ts.
 */
export { absolutePathProblem, DEFAULT_VERSIONS, isHostOrIp, systemDirectoryProblem } from "./fields";
export { checkContextDirs, loadStackConfig, plainSecretLeaves, toStackConfig, type StackConfig, type StackSecrets } from "./load";
export {
    ConfigError,
    type ConnectionConfig,
    type HostConfig,
    type LocalFacts,
    parseConfig,
    type ParsedConfig,
    PROJECT,
    type RawConfig,
    type ResolvedConfig,
    type ResolvedHost,
    SECRET_KEYS,
    stackSchema,
} from "./stack";
