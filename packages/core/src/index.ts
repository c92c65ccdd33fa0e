/**
 * @since 0.1.0
 */
export * as Credentials from "./Credentials.js"
export * as GitHubConfig from "./GitHubConfig.js"
export * as MessageSession from "./MessageSession.js"
export * as Retry from "./Retry.js"
export * as ScaleSetClient from "./ScaleSetClient.js"
export * as ScaleSetError from "./ScaleSetError.js"
export * as ScaleSetSchema from "./ScaleSetSchema.js"
export * as Span from "./Span.js"
export * as SystemInfo from "./SystemInfo.js"
