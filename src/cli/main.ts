// Entry point of the `waypoint` command (bin/waypoint.js and `npm run waypoint` land here).
import { main } from "./program.js";

process.exitCode = await main(process.argv);
