export {
  ACPI_PM_BLOCK_LENGTHS,
  ACPI_PM_IO_LENGTH,
  ACPI_PM_S5_SLEEP_TYPE,
  ACPI_PM_TIMER_BITS,
  ACPI_PM_TIMER_HZ,
  AcpiPm,
  type AcpiPmClock,
  AcpiPmOffset,
  type AcpiPmOptions,
  type AcpiPmState,
  Pm1Control,
  Pm1Enable,
  Pm1Status,
} from "./acpi-pm.js";
export type { BusDevice } from "./bus-device.js";
export { DebugCon, type DebugConOptions } from "./debug-con.js";
export { I8042, type I8042Options, type I8042State } from "./i8042.js";
export { I8042Command, I8042Config, I8042OutputPort, I8042Status } from "./i8042-registers.js";
export {
  type ApicInterruptMessage,
  type ApicInterruptSink,
  IoApic,
  type IoApicOptions,
  type IoApicState,
} from "./ioapic.js";
export {
  DeliveryMode,
  DestinationMode,
  IOAPIC_DEFAULT_ADDRESS,
  IOAPIC_PINS,
  IOAPIC_VERSION,
  IOAPIC_WINDOW_SIZE,
  IoApicRegister,
  IoApicWindow,
  RedirectionEntry,
  TriggerMode,
} from "./ioapic-registers.js";
export { IsaDebugExit, type IsaDebugExitOptions } from "./isa-debug-exit.js";
export { RtcIndex, RtcRegA, RtcRegB, RtcRegC, RtcRegD } from "./mc146818-registers.js";
export {
  Mc146818Rtc,
  type Mc146818RtcOptions,
  type Mc146818RtcState,
  type RtcClock,
} from "./mc146818-rtc.js";
export {
  type PcCmosConfig,
  PcCmosIndex,
  PcEquipment,
  pcCmosChecksum,
  updatePcCmosChecksum,
  writePcCmosConfig,
} from "./pc-cmos.js";
export {
  PcSpeakerPort,
  type PcSpeakerPortOptions,
  type PcSpeakerPortState,
  SpeakerPortBit,
} from "./pc-speaker-port.js";
export {
  PCI_IO_LIMIT,
  PCI_MEMORY_LIMIT,
  type PciBarDefinition,
  type PciBarKind,
} from "./pci-bar.js";
export {
  type PciBarMappingChange,
  PciBus,
  type PciBusOptions,
  type PciBusState,
  pciPirq,
} from "./pci-bus.js";
export { PciConfigSpace, type PciRegisterDefinition } from "./pci-config-space.js";
export {
  PciFunction,
  type PciFunctionLink,
  type PciFunctionOptions,
  type PciFunctionState,
} from "./pci-function.js";
export {
  I440FX_DEVICE_ID,
  PciConfigAddress,
  PciHostBridge,
  type PciHostBridgeOptions,
  type PciHostBridgeState,
} from "./pci-host-bridge.js";
export {
  PCI_ABSENT,
  PciBarBits,
  PciCapabilityId,
  PciClass,
  PciCommand,
  PciConfig,
  PciHeaderType,
  PciInterruptPin,
  PciStatus,
  PciVendor,
} from "./pci-registers.js";
export {
  Icw1,
  Icw4,
  Ocw2,
  Ocw3,
  Pic8259,
  type Pic8259Options,
  type Pic8259State,
  POLL_INTERRUPT,
} from "./pic8259.js";
export { CASCADE_IRQ, Pic8259Pair, type Pic8259PairOptions, type Pic8259PairState } from "./pic8259-pair.js";
export {
  PIIX3_ISA_DEVICE_ID,
  PIIX3_PIRQ_DISABLED,
  PIIX3_PIRQ_ROUTE,
  Piix3IsaBridge,
  type Piix3IsaBridgeOptions,
  type Piix3IsaBridgeState,
  ResetControl,
} from "./piix3-isa-bridge.js";
export {
  PIT_FREQUENCY_HZ,
  Pit8254,
  type Pit8254Options,
  type Pit8254State,
  type PitClock,
  pitNsAtTick,
  pitTicksAtNs,
} from "./pit8254.js";
export type { PitCounterState } from "./pit8254-counter.js";
export { Port92, Port92Bit, type Port92Options, type Port92State } from "./port92.js";
export { PostCodePort, type PostCodePortOptions, type PostCodePortState } from "./post-code-port.js";
export { KeyboardCommand, KeyboardReply, type Ps2KeyboardState } from "./ps2-keyboard.js";
export { MouseCommand, type Ps2MouseState } from "./ps2-mouse.js";
export { KEY_CODES } from "./scancodes.js";
export { Serial16550, type Serial16550Options, type Serial16550State } from "./serial-16550.js";
export { Fcr, Ier, Iir, Lcr, Lsr, Mcr, Msr, UartRegister } from "./serial-16550-registers.js";
export type { Trigger } from "./trigger.js";
