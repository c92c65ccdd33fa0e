#!/usr/bin/env node
/**
 * The `scaleset` command.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { main } from "../Cli.js"

NodeRuntime.runMain(main(process.argv).pipe(Effect.provide(NodeContext.layer)), {
  disableErrorReporting: false,
  // the command chooses its logger (on stderr); runMain's pretty one would print every line again on stdout
  disablePrettyLogger: true,
  teardown: (exit, onExit) =>
    onExit(
      Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
        ? 1
        : typeof process.exitCode === "number" ? process.exitCode : 0
    )
})
