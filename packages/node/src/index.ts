/**
 * @since 0.1.0
 */
export * as NodeConfig from "./NodeConfig.js"
export * as NodeError from "./NodeError.js"
export * as NodeScaleSet from "./NodeScaleSet.js"
