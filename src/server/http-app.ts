// The module the reference server loads as its `http.app` (by path): Waypoint's extras.
import { createExtras } from "./extras.js";

export const app = createExtras();
