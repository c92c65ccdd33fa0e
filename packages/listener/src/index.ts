/**
 * @since 0.1.0
 */
export * as Listener from "./Listener.js"
export * as ListenerError from "./ListenerError.js"
export * as Metrics from "./Metrics.js"
export * as ScalingEvent from "./ScalingEvent.js"
