/** A command line tsqemu refuses; the message is what QEMU would print after its program name. */
export class CommandLineError extends Error {}
