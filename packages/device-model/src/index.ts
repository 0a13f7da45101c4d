export type { BusDevice } from "./bus-device.js";
export { DebugCon, type DebugConOptions } from "./debug-con.js";
export { IsaDebugExit, type IsaDebugExitOptions } from "./isa-debug-exit.js";
export { PostCodePort, type PostCodePortOptions, type PostCodePortState } from "./post-code-port.js";
export { Serial16550, type Serial16550Options, type Serial16550State } from "./serial-16550.js";
export { Fcr, Ier, Iir, Lcr, Lsr, Mcr, Msr, UartRegister } from "./serial-16550-registers.js";
export type { Trigger } from "./trigger.js";
