import { ACCESS_EXECUTE, ACCESS_WRITE } from "./constants.js";

/**
 * What a translation permits, one bit per (access, privilege): bit (access * 2 + user). Write bits
 * are present only once the page's dirty bit is set, so the first write still walks to set it.
 */
export const ALLOW_SUPERVISOR_READ = 1 << 0;
export const ALLOW_USER_READ = 1 << 1;
export const ALLOW_SUPERVISOR_WRITE = 1 << 2;
export const ALLOW_USER_WRITE = 1 << 3;
export const ALLOW_SUPERVISOR_EXECUTE = 1 << 4;
export const ALLOW_USER_EXECUTE = 1 << 5;
export const ALLOW_ALL = 0x3f;
export const ALLOW_WRITE = ALLOW_SUPERVISOR_WRITE | ALLOW_USER_WRITE;

/** The ALLOW_* bit an access needs. */
export function allowBit(access: number, userMode: boolean): number {
  return 1 << ((access === ACCESS_WRITE ? 2 : access === ACCESS_EXECUTE ? 4 : 0) + (userMode ? 1 : 0));
}
