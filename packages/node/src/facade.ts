/**
 * The Promise facade: the JavaScript API of the published `@actions/scaleset` package, for code
 * that does not use Effect. Import it as `@scaleset/node/facade`.
 *
 * @since 0.1.0
 */
export {
  Client,
  GitHubAppAuth,
  type JitRunnerSetting,
  MessageSessionClient,
  type RunnerGroup,
  type RunnerReference,
  type RunnerScaleSet,
  type RunnerScaleSetInput,
  type RunnerScaleSetJitRunnerConfig,
  type RunnerScaleSetMessage,
  type RunnerScaleSetSession,
  type RunnerScaleSetStatistic,
  type SystemInfo
} from "./facade/Client.js"
export { Listener, type ListenerOptions, type Scaler } from "./facade/Listener.js"
export {
  DEFAULT_RUNNER_GROUP,
  type GitHubConfigInfo,
  GitHubScope,
  gitHubAPIURL,
  isHostedGitHubURL,
  parseGitHubConfigFromURL
} from "./facade/config.js"
export {
  ActionsExceptionError,
  AuthenticationError,
  ConfigurationError,
  HttpError,
  InvalidGitHubConfigURLError,
  JobStillRunningError,
  MessageQueueTokenExpiredError,
  ResponseDecodeError,
  RunnerExistsError,
  RunnerGroupNotFoundError,
  RunnerNotFoundError,
  ScaleSetNotFoundError,
  ScalesetError,
  SessionConflictError,
  ValidationError
} from "./facade/errors.js"
export {
  type ClientOption,
  type FacadeLogger,
  withLogger,
  withProxy,
  withRetryMax,
  withRetryWaitMax,
  withRootCAs,
  withTimeout,
  withoutTLSVerify
} from "./facade/options.js"
