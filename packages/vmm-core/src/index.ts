export { attachAcpiPm } from "./acpi-platform.js";
export {
  type AcpiTable,
  type AcpiTableSet,
  type AcpiTablesPlacement,
  buildAcpiTables,
  FadtFlag,
  IapcBootFlag,
  writeAcpiTables,
} from "./acpi-tables.js";
export {
  BOOT_CS,
  BOOT_DS,
  BOOT_GDT_ADDRESS,
  BOOT_GDT_SIZE,
  bootGdtBytes,
  enterFlatProtectedMode,
  enterRealMode,
} from "./boot-cpu-state.js";
export { addFirmwareTables, type FirmwareTablesPlacement } from "./boot-firmware.js";
export { BootImageError } from "./boot-image-error.js";
export {
  E820_RAM,
  E820_RESERVED,
  type E820Entry,
  type GuestRange,
  LOW_RAM_END,
  pcE820Map,
} from "./boot-memory-map.js";
export {
  addBootFirmwareState,
  addDirectKernelBoot,
  addPcRam,
  attachDebugCon,
  attachDebugExit,
  attachPostCodePort,
  attachSerialPort,
  buildPc,
  loadFirmware,
  MachineConfigError,
  type PcConfig,
  type PcDevices,
  type PcKernelConfig,
  type PcMachine,
  type PcMachineType,
  type SerialBackend,
} from "./builder.js";
export { Bus, type BusDevice, BusError, type BusStats } from "./bus.js";
export { DeadlineScheduler } from "./deadline-scheduler.js";
export {
  type DirectKernelBootOptions,
  type DirectKernelBootPlacement,
  kernelFormat,
  loadDirectKernel,
} from "./direct-kernel-boot.js";
export { type Elf32Executable, type ElfLoadSegment, parseElf32Executable } from "./elf32.js";
export {
  checkFirmwareDescription,
  type InterruptPolarity,
  type InterruptTrigger,
  type IoApicDescription,
  type IsaInterruptOverride,
  isaIrqGsi,
  mpsIntiFlags,
  PC_ACPI_PM_IO_BASE,
  PC_IO_APIC_ADDRESS,
  PC_LOCAL_APIC_ADDRESS,
  PC_PIRQ_IRQS,
  PC_RESET_REGISTER,
  PC_SCI_IRQ,
  type PcFirmwareDescription,
  type PcFirmwareOptions,
  type PcIsaDevice,
  pcFirmwareDescription,
} from "./firmware-description.js";
export { type FirmwareTablesLayout, PC_FIRMWARE_TABLES, writeEbdaPointer } from "./firmware-tables-area.js";
export { InterruptLines, type Trigger } from "./interrupt-lines.js";
export { attachIoApic, ioApicMessageToMsi, isaIrqIoApicPin } from "./ioapic-platform.js";
export {
  LINUX_CMDLINE_ADDRESS,
  LINUX_REAL_MODE_ADDRESS,
  LINUX_REAL_MODE_HEAP_END,
  LINUX_ZERO_PAGE_ADDRESS,
  type LinuxBootOptions,
  type LinuxBootPlacement,
  loadLinuxKernel,
} from "./linux-boot.js";
export { type BzImageHeader, parseBzImageHeader } from "./linux-boot-header.js";
export {
  defaultYieldToHost,
  type ExternalInterruptController,
  Machine,
  type MachineExit,
  type MachineOptions,
  type MachineStats,
  type MachineTimer,
  type YieldToHost,
} from "./machine.js";
export {
  buildMpTable,
  MpEntryType,
  MpInterruptType,
  type MpTablePlacement,
  type MpTableSet,
  writeMpTable,
} from "./mp-table.js";
export {
  loadMultibootKernel,
  MULTIBOOT_INFO_ADDRESS,
  type MultibootBootOptions,
  type MultibootModule,
  type MultibootPlacement,
} from "./multiboot.js";
export {
  findMultibootHeader,
  type KernelSegment,
  MULTIBOOT_BOOTLOADER_MAGIC,
  MULTIBOOT_HEADER_MAGIC,
  type MultibootHeader,
  type MultibootImage,
  parseMultibootImage,
} from "./multiboot-header.js";
export { type MultibootModuleSpec, splitMultibootModuleList } from "./multiboot-module-list.js";
export { PC_LAYOUT } from "./pc-layout.js";
export {
  A20_SOURCE,
  A20Gate,
  attachKeyboardController,
  attachPic,
  attachPit,
  attachPort92,
  attachRtc,
  attachSpeakerPort,
  PC_IRQ,
} from "./pc-platform.js";
export { assignPciBars, type PciBarAssignment, type PciBarWindows } from "./pci-bar-assignment.js";
export {
  attachPciBus,
  PCI_CONFIG_ADDRESS_PORT,
  PCI_CONFIG_DATA_PORT,
  PciBarMapper,
  type PcPci,
  PIIX3_SLOT,
  programPciInterruptRouting,
} from "./pci-platform.js";
export { type VirtioMmioDescription, virtioMmioDeviceAml } from "./virtio-mmio-aml.js";
export {
  type AttachedVirtioDevice,
  appendVirtioMmioKernelParameters,
  attachVirtioDevices,
  attachVirtioMmio,
  attachVirtioPci,
  FIRST_PCI_DEVICE_SLOT,
  linuxReadsAcpi,
  PC_VIRTIO_MMIO_IRQS,
  type PcVirtioDevice,
  pcVirtioMmioPlacement,
  virtioMmioKernelParameter,
  withVirtioMmioDevices,
} from "./virtio-platform.js";
