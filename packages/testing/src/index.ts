/**
 * @since 0.1.0
 */
export * as Faults from "./Faults.js"
export * as JobModel from "./JobModel.js"
export * as ScaleSetClientTest from "./ScaleSetClientTest.js"
export * as SimulatedRunner from "./SimulatedRunner.js"
export * as Simulator from "./Simulator.js"
export { startSimulator } from "./Simulator.js"
export { runSimulatedRunner } from "./SimulatedRunner.js"
