/**
 * The errors a listener ends with.
 *
 * @since 0.1.0
 */
import {
  ActionsException,
  AuthError,
  JobStillRunning,
  MessageQueueTokenExpired,
  ResponseDecodeError,
  RunnerExists,
  RunnerNotFound,
  ScaleSetApiError,
  ScaleSetNotFound,
  SessionConflict,
  ValidationError
} from "@scaleset/core/ScaleSetError"
import * as Schema from "effect/Schema"

/**
 * A listener option is unusable: a `maxRunners` outside 0..2³¹−1 (checked at start and on every
 * poll when it is a `Ref`), or no session.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenerConfigError extends Schema.TaggedError<ListenerConfigError>("@scaleset/listener/ListenerConfigError")(
  "ListenerConfigError",
  { field: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `invalid listener option ${this.field}: ${this.reason}`
  }
}

/**
 * The message session cannot be listened on: no session id, or no statistics to start from.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSession extends Schema.TaggedError<InvalidSession>("@scaleset/listener/InvalidSession")(
  "InvalidSession",
  { reason: Schema.String }
) {
  override get message(): string {
    return `the message session cannot be listened on: ${this.reason}`
  }
}

/**
 * Every error a message session operation can end with.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SessionFailure = Schema.Union(
  ScaleSetApiError,
  ActionsException,
  RunnerNotFound,
  RunnerExists,
  JobStillRunning,
  ScaleSetNotFound,
  SessionConflict,
  ResponseDecodeError,
  AuthError,
  MessageQueueTokenExpired,
  ValidationError
)

/**
 * A message session operation failed for good: a fatal error, not a transient one (those are
 * retried inside the loop). `cause` is the typed error from `@scaleset/core`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenerClientError extends Schema.TaggedError<ListenerClientError>("@scaleset/listener/ListenerClientError")(
  "ListenerClientError",
  {
    operation: Schema.Literal("createSession", "getMessage", "deleteMessage", "acquireJobs"),
    cause: SessionFailure
  }
) {
  override get message(): string {
    const what = this.operation === "createSession"
      ? "create the message session"
      : this.operation === "getMessage"
      ? "get message"
      : this.operation === "deleteMessage"
      ? "delete message"
      : "acquire available jobs"
    return `failed to ${what}: ${this.cause.message}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type ListenerError = ListenerConfigError | InvalidSession | ListenerClientError
