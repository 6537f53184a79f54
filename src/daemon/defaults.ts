/** Where the daemon and its commands look when neither a flag nor the environment says. */
export const DEFAULT_CONFIG = "config/config.yml";
/** The status endpoint: loopback only unless told otherwise. */
export const DEFAULT_LISTEN = "127.0.0.1:9410";
