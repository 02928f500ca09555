// Imported first by test files whose runs call webhooks on 127.0.0.1 (Waypoint refuses other hosts
// unless WAYPOINT_WEBHOOK_HOSTS names them): set before any module reads the configuration.
process.env.WAYPOINT_WEBHOOK_HOSTS ||= "127.0.0.1";
export {};
