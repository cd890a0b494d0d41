/**
 * The two Electron IPC channels that carry the SiteApi between the renderer's preload and the main
 * process. One definition for both sides: the preload is bundled (sandboxed preloads cannot load
 * modules), so it can import this platform-free file without importing main-process code.
 */
export const SITE_API_INVOKE = 'site-api:invoke';
export const SITE_API_EVENT = 'site-api:event';
