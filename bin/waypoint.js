#!/usr/bin/env node
// `waypoint` on the PATH (npm link / npx): runs the TypeScript CLI through tsx, no build step.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
