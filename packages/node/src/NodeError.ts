/**
 * The errors of the Node layers: an unusable transport setting (proxy URL, CA file) and an
 * incomplete or conflicting configuration from the environment.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A transport option cannot be used: a proxy URL that does not parse, a CA file that cannot be
 * read or holds no certificate. Never carries a credential.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Schema.TaggedError<TransportError>("@scaleset/node/TransportError")(
  "TransportError",
  { setting: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `invalid transport setting ${this.setting}: ${this.reason}`
  }
}

/**
 * The configuration read from the environment is missing something or contradicts itself. The
 * message lists every problem found and what to set.
 *
 * @since 0.1.0
 * @category errors
 */
export class NodeConfigError extends Schema.TaggedError<NodeConfigError>("@scaleset/node/NodeConfigError")(
  "NodeConfigError",
  { problems: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `scaleset configuration is incomplete or inconsistent:\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}
