/** tsqemu's version; a test keeps it equal to package.json's. */
export const TSQEMU_VERSION = "0.1.0";

export const VERSION_TEXT = `tsqemu version ${TSQEMU_VERSION} (tsvmm, a software x86 PC in TypeScript)
QEMU-compatible command line; accelerator: tcg (interpreter)
`;
